/** Small builders shared by the unit tests: pods through the real defaulting, runtime states by hand. */
import { containerHash } from '../../agent/api/pod-helpers.js';
import type { Container, DefaultedPod, ObjectMeta, PodSpec } from '../../agent/api/types.js';
import { withApiDefaults } from '../../agent/config/pod-defaults.js';
import type { PodRef, RuntimeContainerStatus, RuntimePodStatus, SandboxStatus } from '../../agent/runtime/runtime.js';

export const Image = 'dockerlet.local/busybox:1.35';

/** A container spec with the test image. */
export function ctr(name: string, extra: Partial<Container> = {}): Container {
  return { name, image: Image, ...extra };
}

/** A pod named `web` (uid `uid-1`) with one container `main` unless `spec` says otherwise, defaulted as the API server would. */
export function pod(spec: Partial<PodSpec> = {}, metadata: Partial<ObjectMeta> = {}): DefaultedPod {
  return withApiDefaults({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'default', uid: 'uid-1', ...metadata },
    spec: { containers: [ctr('main')], ...spec },
  }) as DefaultedPod;
}

export function ref(p: DefaultedPod): PodRef {
  return { uid: p.metadata.uid, name: p.metadata.name, namespace: p.metadata.namespace };
}

/** The spec container (app or init) named `name`. */
export function specOf(p: DefaultedPod, name: string): Container {
  const found = [...(p.spec.initContainers ?? []), ...p.spec.containers].find((c) => c.name === name);
  if (!found) throw new Error(`no container ${name} in the pod spec`);
  return found;
}

export function sandbox(p: DefaultedPod, extra: Partial<SandboxStatus> = {}): SandboxStatus {
  return {
    id: 'sandbox-1',
    pod: ref(p),
    attempt: 0,
    state: 'ready',
    createdAt: 1_000,
    hostNetwork: p.spec.hostNetwork === true,
    ...(p.spec.hostNetwork === true ? {} : { ip: '10.244.0.5' }),
    ...extra,
  };
}

/**
 * An instance of the spec container `name`, created from the current spec (so its hash matches)
 * in `sandbox-1`; running unless `extra` says otherwise.
 */
export function instance(p: DefaultedPod, name: string, extra: Partial<RuntimeContainerStatus> = {}): RuntimeContainerStatus {
  const spec = specOf(p, name);
  const isInit = (p.spec.initContainers ?? []).some((c) => c.name === name);
  return {
    id: `${name}-0`,
    name,
    pod: ref(p),
    sandboxId: 'sandbox-1',
    kind: isInit ? 'init' : 'regular',
    state: 'running',
    createdAt: 2_000,
    startedAt: 2_000,
    image: spec.image ?? '',
    imageRef: 'docker-pullable://sha256:abc',
    hash: containerHash(spec),
    restartCount: 0,
    labels: {},
    ...extra,
  };
}

/** An exited instance of `name` with `exitCode`. */
export function exited(p: DefaultedPod, name: string, exitCode: number, extra: Partial<RuntimeContainerStatus> = {}): RuntimeContainerStatus {
  return instance(p, name, {
    state: 'exited',
    exitCode,
    reason: exitCode === 0 ? 'Completed' : 'Error',
    finishedAt: 3_000,
    ...extra,
  });
}

/** What the runtime shows of `p`: its sandboxes and containers, newest first. */
export function runtimeStatus(p: DefaultedPod, sandboxes: SandboxStatus[], containers: RuntimeContainerStatus[] = []): RuntimePodStatus {
  return { pod: ref(p), sandboxes, containers };
}

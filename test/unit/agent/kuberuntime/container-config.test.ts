import { describe, expect, test } from 'vitest';
import { containerHash } from '../../../../common/api/pod-helpers.js';
import type { Container, DefaultedPod } from '../../../../common/api/types.js';
import { containerConfig, sandboxConfig, seccompProfile, type ContainerConfigContext } from '../../../../agent/kuberuntime/container-config.js';
import type { ContainerConfig } from '../../../../agent/runtime/runtime.js';
import { RootDir } from '../../../../agent/volumes/root-dir.js';
import { makeEnvironment } from '../../../../agent/envvars/env.js';
import { ctr, Image, pod } from '../../fixtures.js';

/** The context of the first app container of `p`, its environment made from its spec. */
function context(p: DefaultedPod, overrides: Partial<ContainerConfigContext> = {}): ContainerConfigContext {
  const env = makeEnvironment(p.spec.containers[0]!, {
    pod: p,
    podIPs: ['10.244.0.5'],
    hostIPs: ['192.168.1.10'],
    nodeAllocatable: { milliCpu: 4000, memoryBytes: 2 ** 33, ephemeralStorageBytes: 2 ** 36 },
    objects: { configMap: () => undefined, secret: () => undefined },
    serviceEnv: { ok: true, env: [] },
  });
  if (!env.ok) throw new Error(env.message);
  return { pod: p, rootDir: new RootDir('/var/lib/dockerlet'), restartCount: 0, env: env.env, volumeMounts: [], memoryCapacityBytes: 2 ** 33, ...overrides };
}

/** The config for the first app container of a pod with `spec`. */
function configOf(container: Container, spec: Parameters<typeof pod>[0] = {}, overrides: Partial<ContainerConfigContext> = {}): ContainerConfig {
  const p = pod({ ...spec, containers: [container] });
  return containerConfig(p.spec.containers[0]!, 'regular', context(p, overrides));
}

describe('containerConfig: resources', () => {
  test('limits and requests -> memory bytes, CFS quota over a 100 ms period, shares from the request', () => {
    const config = configOf(ctr('main', { resources: { requests: { cpu: '250m', memory: '16Mi' }, limits: { cpu: '500m', memory: '64Mi' } } }));
    expect(config.resources).toEqual({ oomScoreAdj: 999, memoryLimitBytes: 64 * 2 ** 20, cpuShares: 256, cpuQuota: 50_000, cpuPeriod: 100_000 });
  });

  test('no resources: BestEffort\'s OOM score, minimal shares, no memory limit, no quota', () => {
    expect(configOf(ctr('main')).resources).toEqual({ oomScoreAdj: 1000, cpuShares: 2 });
  });

  test('a tiny CPU limit still gets the 1 ms minimum quota', () => {
    expect(configOf(ctr('main', { resources: { limits: { cpu: '5m' } } })).resources).toMatchObject({ cpuQuota: 1000, cpuPeriod: 100_000 });
  });

  test('a limit alone sets the shares too (requests default to limits)', () => {
    expect(configOf(ctr('main', { resources: { limits: { cpu: '2' } } })).resources).toEqual({ oomScoreAdj: 999, cpuShares: 2048, cpuQuota: 200_000, cpuPeriod: 100_000 });
  });

  test('a zero request with a limit takes its shares from the limit, as the kubelet does', () => {
    expect(configOf(ctr('main', { resources: { requests: { cpu: '0' }, limits: { cpu: '1' } } })).resources.cpuShares).toBe(1024);
  });

  test('the OOM score follows the pod\'s class, a Burstable one reckoned against the node\'s memory', () => {
    expect(configOf(ctr('main', { resources: { limits: { cpu: '1', memory: '1Gi' } } })).resources.oomScoreAdj).toBe(-997);
    expect(configOf(ctr('main', { resources: { requests: { memory: '2Gi' } } }), {}, { memoryCapacityBytes: 2 ** 33 }).resources.oomScoreAdj).toBe(750);
  });

  test('a zero CPU limit is no quota at all, and a zero memory limit no limit', () => {
    expect(configOf(ctr('main', { resources: { limits: { cpu: '0', memory: '0' } } })).resources).toEqual({ oomScoreAdj: 1000, cpuShares: 2 });
  });
});

describe('containerConfig: identity, command and environment', () => {
  test('name, kind, restart count, spec hash and image', () => {
    const p = pod();
    const config = containerConfig(p.spec.containers[0]!, 'regular', context(p, { restartCount: 3 }));
    expect(config).toMatchObject({ name: 'main', kind: 'regular', restartCount: 3, hash: containerHash(p.spec.containers[0]!), image: Image });
  });

  test('$(VAR) in command and args expands from the environment; $$ escapes', () => {
    const config = configOf(ctr('main', { command: ['echo', '$(GREETING)'], args: ['$$(GREETING)', '$(MISSING)'], env: [{ name: 'GREETING', value: 'hi' }] }));
    expect([config.command, config.args]).toEqual([
      ['echo', 'hi'],
      ['$(GREETING)', '$(MISSING)'],
    ]);
  });

  test('command and args are left out when the spec has none', () => {
    const config = configOf(ctr('main'));
    expect('command' in config || 'args' in config).toBe(false);
  });

  test('the environment made for the container is passed on as it is', () => {
    const config = configOf(ctr('main'), {}, { env: [{ name: 'A', value: '1' }] });
    expect(config.env).toEqual([{ name: 'A', value: '1' }]);
  });

  test('stdin, tty and workingDir are passed on', () => {
    const config = configOf(ctr('main', { stdin: true, tty: true, workingDir: '/work' }));
    expect(config).toMatchObject({ stdin: true, stdinOnce: false, tty: true, workingDir: '/work' });
  });
});

describe('containerConfig: security', () => {
  test('runAsUser and runAsGroup -> "uid:gid"', () => {
    expect(configOf(ctr('main', { securityContext: { runAsUser: 1000, runAsGroup: 3000 } })).security.user).toBe('1000:3000');
  });

  test('runAsUser alone -> "uid"', () => {
    expect(configOf(ctr('main', { securityContext: { runAsUser: 1000 } })).security.user).toBe('1000');
  });

  test('the pod security context applies where the container says nothing', () => {
    const config = configOf(ctr('main', { securityContext: { runAsGroup: 7 } }), { securityContext: { runAsUser: 42, runAsGroup: 9 } });
    expect(config.security.user).toBe('42:7');
  });

  test('no user at all leaves the image default', () => {
    expect(configOf(ctr('main')).security.user).toBeUndefined();
  });

  test('privileged, read-only root, capabilities, no-new-privileges and namespace sharing', () => {
    const config = configOf(
      ctr('main', {
        securityContext: { privileged: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { add: ['NET_ADMIN'], drop: ['ALL'] } },
      }),
      { shareProcessNamespace: true, hostIPC: true },
    );
    expect(config.security).toEqual({
      supplementalGroups: [],
      privileged: true,
      readOnlyRootFilesystem: true,
      capAdd: ['NET_ADMIN'],
      capDrop: ['ALL'],
      noNewPrivileges: true,
      seccomp: { type: 'Unconfined' },
      sharePid: true,
      hostPID: false,
      hostIPC: true,
    });
  });

  test('the pod\'s fsGroup and then its supplementalGroups are the processes\' extra groups', () => {
    const config = configOf(ctr('main'), { securityContext: { runAsUser: 1000, fsGroup: 2000, supplementalGroups: [3000, 3001] } });
    expect(config.security).toMatchObject({ user: '1000', supplementalGroups: [2000, 3000, 3001] });
  });
});

describe('containerConfig: mounts', () => {
  test('without hostNetwork: volumes, then /etc/hosts, /etc/resolv.conf and the termination message file', () => {
    const volume = { hostPath: '/var/lib/dockerlet/pods/uid-1/volumes/kubernetes.io~empty-dir/data', containerPath: '/data', readOnly: false };
    const config = configOf(ctr('main'), {}, { volumeMounts: [volume], restartCount: 2 });
    expect(config.mounts).toEqual([
      volume,
      { hostPath: '/var/lib/dockerlet/pods/uid-1/etc-hosts', containerPath: '/etc/hosts', readOnly: false },
      { hostPath: '/var/lib/dockerlet/pods/uid-1/resolv.conf', containerPath: '/etc/resolv.conf', readOnly: false },
      { hostPath: '/var/lib/dockerlet/pods/uid-1/containers/main/2', containerPath: '/dev/termination-log', readOnly: false },
    ]);
  });

  test('a container that mounts a volume at /etc/hosts or /etc/resolv.conf gets that, not the managed file', () => {
    const hosts = { hostPath: '/srv/hosts', containerPath: '/etc/hosts', readOnly: true };
    const resolv = { hostPath: '/srv/resolv', containerPath: '/etc/resolv.conf/', readOnly: true };
    const config = configOf(ctr('main'), {}, { volumeMounts: [hosts, resolv] });
    expect(config.mounts.map((m) => `${m.containerPath} <- ${m.hostPath}`)).toEqual([
      '/etc/hosts <- /srv/hosts',
      '/etc/resolv.conf/ <- /srv/resolv',
      '/dev/termination-log <- /var/lib/dockerlet/pods/uid-1/containers/main/0',
    ]);
  });

  test('with hostNetwork there is no managed /etc/hosts', () => {
    const config = configOf(ctr('main'), { hostNetwork: true });
    expect(config.mounts.map((m) => m.containerPath)).toEqual(['/etc/resolv.conf', '/dev/termination-log']);
  });

  test('the termination message file follows terminationMessagePath, and is labelled with it and its policy', () => {
    const config = configOf(ctr('main', { terminationMessagePath: '/tmp/why', terminationMessagePolicy: 'FallbackToLogsOnError' }), { terminationGracePeriodSeconds: 5 });
    expect(config.mounts.at(-1)).toEqual({ hostPath: '/var/lib/dockerlet/pods/uid-1/containers/main/0', containerPath: '/tmp/why', readOnly: false });
    expect(config.labels).toEqual({
      'io.kubernetes.pod.terminationGracePeriod': '5',
      'io.kubernetes.container.terminationMessagePath': '/tmp/why',
      'io.kubernetes.container.terminationMessagePolicy': 'FallbackToLogsOnError',
    });
  });
});

describe('seccompProfile', () => {
  const root = new RootDir('/var/lib/dockerlet');

  test('none set is Unconfined, as the kubelet without --seccomp-default', () => {
    expect(seccompProfile(root, undefined, undefined)).toEqual({ type: 'Unconfined' });
  });

  test("the container's wins over the pod's", () => {
    expect(seccompProfile(root, { type: 'RuntimeDefault' }, { type: 'Unconfined' })).toEqual({ type: 'RuntimeDefault' });
    expect(seccompProfile(root, undefined, { type: 'RuntimeDefault' })).toEqual({ type: 'RuntimeDefault' });
  });

  test('a Localhost profile is a file under <root-dir>/seccomp', () => {
    expect(seccompProfile(root, { type: 'Localhost', localhostProfile: 'profiles/audit.json' })).toEqual({ type: 'Localhost', path: '/var/lib/dockerlet/seccomp/profiles/audit.json' });
  });
});

describe('sandboxConfig', () => {
  test('carries the pod identity, attempt, hostname and namespace modes', () => {
    const p = pod({ hostname: 'front', hostIPC: true });
    expect(sandboxConfig(p, 2, new RootDir('/var/lib/dockerlet'))).toEqual({
      pod: { uid: 'uid-1', name: 'web', namespace: 'default' },
      attempt: 2,
      seccomp: { type: 'Unconfined' },
      sysctls: {},
      hostname: 'front',
      hostNetwork: false,
      hostIPC: true,
      hostPID: false,
      portMappings: [],
      labels: { 'io.kubernetes.pod.terminationGracePeriod': '30' },
    });
  });

  test('the pod\'s cgroup, when it has one, is the sandbox\'s cgroup parent; without one, none', () => {
    const p = pod();
    expect(sandboxConfig(p, 0, new RootDir('/var/lib/dockerlet'), '/dockerlet/besteffort/poduid-1').cgroupParent).toBe('/dockerlet/besteffort/poduid-1');
    expect(sandboxConfig(p, 0, new RootDir('/var/lib/dockerlet'))).not.toHaveProperty('cgroupParent');
  });

  test('maps only ports with a hostPort, from init and app containers', () => {
    const p = pod({
      initContainers: [ctr('init', { ports: [{ containerPort: 9000, hostPort: 19000 }] })],
      containers: [ctr('main', { ports: [{ containerPort: 80 }, { containerPort: 53, hostPort: 5353, protocol: 'UDP', hostIP: '127.0.0.1' }] })],
    });
    expect(sandboxConfig(p, 0, new RootDir('/var/lib/dockerlet')).portMappings).toEqual([
      { containerPort: 9000, hostPort: 19000, protocol: 'TCP' },
      { containerPort: 53, hostPort: 5353, protocol: 'UDP', hostIP: '127.0.0.1' },
    ]);
  });
});

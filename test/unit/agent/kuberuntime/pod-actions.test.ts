import { describe, expect, test } from 'vitest';
import { computePodActions, shouldStart, type PodActions } from '../../../../agent/kuberuntime/pod-actions.js';
import { ctr, exited, instance, pod, runtimeStatus, sandbox } from '../../fixtures.js';

/** The decision in names: what to kill, create and start. */
function summary(actions: PodActions): Record<string, unknown> {
  return {
    killPod: actions.killPod,
    createSandbox: actions.createSandbox,
    attempt: actions.attempt,
    init: actions.initContainersToStart.map((c) => c.name),
    start: actions.containersToStart.map((c) => c.name),
    kill: actions.containersToKill.map((k) => k.id),
    initFailed: actions.initFailed,
  };
}

const twoApps = { containers: [ctr('app'), ctr('helper')] };
const twoInits = { initContainers: [ctr('first'), ctr('second')], containers: [ctr('app')] };

describe('computePodActions: the sandbox', () => {
  test('no sandbox: create one (attempt 0) and start every app container', () => {
    const p = pod(twoApps);
    expect(summary(computePodActions(p, runtimeStatus(p, [])))).toEqual({
      killPod: true,
      createSandbox: true,
      attempt: 0,
      init: [],
      start: ['app', 'helper'],
      kill: [],
      initFailed: false,
    });
  });

  test('no sandbox and init containers: create one and start only the first init container', () => {
    const p = pod(twoInits);
    expect(summary(computePodActions(p, runtimeStatus(p, [])))).toMatchObject({ createSandbox: true, init: ['first'], start: [] });
  });

  test('a sandbox that is not ready is killed and replaced with attempt + 1', () => {
    const p = pod();
    const status = runtimeStatus(p, [sandbox(p, { state: 'notready', attempt: 2 })], [exited(p, 'main', 137)]);
    expect(summary(computePodActions(p, status))).toMatchObject({ killPod: true, createSandbox: true, attempt: 3, start: ['main'] });
  });

  test('a ready sandbox without an IP is replaced', () => {
    const p = pod();
    const status = runtimeStatus(p, [sandbox(p, { ip: undefined })]);
    expect(summary(computePodActions(p, status))).toMatchObject({ killPod: true, createSandbox: true, attempt: 1 });
  });

  test('a sandbox whose network mode no longer matches the spec is replaced', () => {
    const p = pod({ hostNetwork: true });
    const status = runtimeStatus(p, [sandbox(p, { hostNetwork: false, ip: '10.244.0.5' })]);
    expect(summary(computePodActions(p, status))).toMatchObject({ createSandbox: true, attempt: 1 });
  });

  test('a hostNetwork sandbox needs no IP of its own', () => {
    const p = pod({ hostNetwork: true });
    const status = runtimeStatus(p, [sandbox(p)], [instance(p, 'main')]);
    expect(summary(computePodActions(p, status))).toMatchObject({ killPod: false, createSandbox: false, start: [] });
  });

  test('restartPolicy Never: a dead sandbox whose containers already ran gets no new sandbox', () => {
    const p = pod({ restartPolicy: 'Never' });
    const status = runtimeStatus(p, [sandbox(p, { state: 'notready' })], [exited(p, 'main', 1)]);
    expect(summary(computePodActions(p, status))).toMatchObject({ killPod: true, createSandbox: false, start: [], init: [] });
  });

  test('restartPolicy Never: a dead sandbox with no container yet is retried', () => {
    const p = pod({ restartPolicy: 'Never' });
    const status = runtimeStatus(p, [sandbox(p, { state: 'notready' })]);
    expect(summary(computePodActions(p, status))).toMatchObject({ createSandbox: true, attempt: 1, start: ['main'] });
  });

  test('restartPolicy OnFailure: containers that succeeded are not started in the new sandbox', () => {
    const p = pod({ restartPolicy: 'OnFailure', ...twoApps });
    const status = runtimeStatus(p, [sandbox(p, { state: 'notready' })], [exited(p, 'app', 0), exited(p, 'helper', 2)]);
    expect(summary(computePodActions(p, status))).toMatchObject({ createSandbox: true, start: ['helper'] });
  });

  test('restartPolicy OnFailure: when every container succeeded, no new sandbox', () => {
    const p = pod({ restartPolicy: 'OnFailure' });
    const status = runtimeStatus(p, [sandbox(p, { state: 'notready' })], [exited(p, 'main', 0)]);
    expect(summary(computePodActions(p, status))).toMatchObject({ killPod: true, createSandbox: false, start: [] });
  });

  test('with a ready sandbox, containers run in it', () => {
    const p = pod(twoApps);
    const actions = computePodActions(p, runtimeStatus(p, [sandbox(p)]));
    expect(summary(actions)).toMatchObject({ killPod: false, createSandbox: false, start: ['app', 'helper'] });
    expect(actions.sandboxId).toBe('sandbox-1');
  });
});

describe('computePodActions: init containers', () => {
  test('a running init container is waited for: nothing starts', () => {
    const p = pod(twoInits);
    const status = runtimeStatus(p, [sandbox(p)], [instance(p, 'first')]);
    expect(summary(computePodActions(p, status))).toMatchObject({ killPod: false, init: [], start: [] });
  });

  test('init containers run one at a time, in order', () => {
    const p = pod(twoInits);
    const status = runtimeStatus(p, [sandbox(p)], [exited(p, 'first', 0)]);
    expect(summary(computePodActions(p, status))).toMatchObject({ init: ['second'], start: [] });
  });

  test('once every init container succeeded, the app containers start', () => {
    const p = pod(twoInits);
    const status = runtimeStatus(p, [sandbox(p)], [exited(p, 'second', 0), exited(p, 'first', 0)]);
    expect(summary(computePodActions(p, status))).toMatchObject({ init: [], start: ['app'] });
  });

  test('a created but never started init container is started again', () => {
    const p = pod(twoInits);
    const status = runtimeStatus(p, [sandbox(p)], [instance(p, 'first', { state: 'created', startedAt: undefined })]);
    expect(summary(computePodActions(p, status))).toMatchObject({ init: ['first'] });
  });

  test.each(['OnFailure', 'Always'] as const)('a failed init container is retried under %s', (restartPolicy) => {
    const p = pod({ ...twoInits, restartPolicy });
    const status = runtimeStatus(p, [sandbox(p)], [exited(p, 'second', 1), exited(p, 'first', 0)]);
    expect(summary(computePodActions(p, status))).toMatchObject({ killPod: false, init: ['second'], start: [], initFailed: false });
  });

  test('a failed init container under Never fails the pod: kill it, start nothing', () => {
    const p = pod({ ...twoInits, restartPolicy: 'Never' });
    const status = runtimeStatus(p, [sandbox(p)], [exited(p, 'first', 1)]);
    expect(summary(computePodActions(p, status))).toMatchObject({ killPod: true, createSandbox: false, init: [], start: [], initFailed: true });
  });

  test('init containers of an older sandbox do not count in the new one', () => {
    const p = pod(twoInits);
    const old = exited(p, 'first', 0, { id: 'first-old', sandboxId: 'sandbox-0' });
    const status = runtimeStatus(p, [sandbox(p, { attempt: 1 })], [old]);
    expect(summary(computePodActions(p, status))).toMatchObject({ init: ['first'], start: [] });
  });
});

describe('computePodActions: sidecars (init containers with restartPolicy Always)', () => {
  const withSidecar = { initContainers: [ctr('proxy', { restartPolicy: 'Always' }), ctr('setup')], containers: [ctr('app')] };

  test('a sidecar that is not running yet is started before the next init container', () => {
    const p = pod(withSidecar);
    expect(summary(computePodActions(p, runtimeStatus(p, [sandbox(p)])))).toMatchObject({ init: ['proxy'], start: [] });
  });

  test('a running sidecar counts as done: the next init container starts', () => {
    const p = pod(withSidecar);
    const status = runtimeStatus(p, [sandbox(p)], [instance(p, 'proxy')]);
    expect(summary(computePodActions(p, status))).toMatchObject({ init: ['setup'], start: [] });
  });

  test('with the sidecar running and init done, the app containers start', () => {
    const p = pod(withSidecar);
    const status = runtimeStatus(p, [sandbox(p)], [exited(p, 'setup', 0), instance(p, 'proxy')]);
    expect(summary(computePodActions(p, status))).toMatchObject({ init: [], start: ['app'] });
  });

  test.each(['Never', 'OnFailure', 'Always'] as const)('after initialization an exited sidecar is restarted under %s', (restartPolicy) => {
    const p = pod({ ...withSidecar, restartPolicy });
    const status = runtimeStatus(p, [sandbox(p)], [instance(p, 'app'), exited(p, 'proxy', 0), exited(p, 'setup', 0)]);
    expect(summary(computePodActions(p, status))).toMatchObject({ killPod: false, init: ['proxy'], start: [] });
  });

  test('regular init containers are not re-run after initialization', () => {
    const p = pod(withSidecar);
    const status = runtimeStatus(p, [sandbox(p)], [instance(p, 'app'), instance(p, 'proxy'), exited(p, 'setup', 1)]);
    expect(summary(computePodActions(p, status))).toMatchObject({ init: [], start: [], kill: [] });
  });

  test('a running sidecar does not keep a finished pod alive', () => {
    const p = pod({ ...withSidecar, restartPolicy: 'Never' });
    const status = runtimeStatus(p, [sandbox(p)], [exited(p, 'app', 0), exited(p, 'proxy', 137), exited(p, 'setup', 0)]);
    expect(summary(computePodActions(p, status))).toMatchObject({ killPod: true, init: [], start: [] });
  });
});

describe('computePodActions: app containers', () => {
  test('a running container whose spec changed is killed and started again', () => {
    const p = pod({ restartPolicy: 'Never' });
    const status = runtimeStatus(p, [sandbox(p)], [instance(p, 'main', { hash: 'an-older-spec' })]);
    const actions = computePodActions(p, status);
    expect(summary(actions)).toMatchObject({ killPod: false, start: ['main'], kill: ['main-0'] });
    expect(actions.containersToKill[0]!.message).toBe('Container main definition changed, will be restarted');
  });

  test('a running container with the current spec is kept', () => {
    const p = pod();
    const status = runtimeStatus(p, [sandbox(p)], [instance(p, 'main')]);
    expect(summary(computePodActions(p, status))).toMatchObject({ killPod: false, start: [], kill: [] });
  });

  test.each([
    ['Always', 0, true],
    ['Always', 1, true],
    ['OnFailure', 0, false],
    ['OnFailure', 1, true],
    ['Never', 0, false],
    ['Never', 1, false],
  ] as const)('under %s a container that exited with %d is restarted: %s', (restartPolicy, exitCode, restarted) => {
    const p = pod({ restartPolicy, ...twoApps });
    const status = runtimeStatus(p, [sandbox(p)], [exited(p, 'app', exitCode), instance(p, 'helper')]);
    expect(summary(computePodActions(p, status)).start).toEqual(restarted ? ['app'] : []);
  });

  test('a created but never started container is started whatever the policy', () => {
    const p = pod({ restartPolicy: 'Never' });
    const status = runtimeStatus(p, [sandbox(p)], [instance(p, 'main', { state: 'created', startedAt: undefined })]);
    expect(summary(computePodActions(p, status)).start).toEqual(['main']);
  });

  test('only the newest instance of a container counts', () => {
    const p = pod({ restartPolicy: 'OnFailure' });
    const status = runtimeStatus(p, [sandbox(p)], [exited(p, 'main', 0, { id: 'main-1' }), exited(p, 'main', 1, { id: 'main-0' })]);
    expect(summary(computePodActions(p, status))).toMatchObject({ killPod: true, start: [] });
  });

  test('a running container that is not in the spec is killed', () => {
    const p = pod();
    const stray = { ...instance(p, 'main'), id: 'stray-0', name: 'stray' };
    const status = runtimeStatus(p, [sandbox(p)], [stray, instance(p, 'main')]);
    const actions = computePodActions(p, status);
    expect(summary(actions)).toMatchObject({ killPod: false, kill: ['stray-0'], start: [] });
    expect(actions.containersToKill[0]).toEqual({ id: 'stray-0', name: 'stray', message: 'Container is not in the pod spec any more' });
  });

  test('a container still running in an older sandbox is killed', () => {
    const p = pod();
    const status = runtimeStatus(p, [sandbox(p, { attempt: 1 })], [instance(p, 'main', { id: 'main-new' }), instance(p, 'main', { id: 'main-old', sandboxId: 'sandbox-0' })]);
    expect(summary(computePodActions(p, status))).toMatchObject({ kill: ['main-old'], start: [] });
  });

  test('when nothing runs and nothing is to start, the pod is killed', () => {
    const p = pod({ restartPolicy: 'Never', ...twoApps });
    const status = runtimeStatus(p, [sandbox(p)], [exited(p, 'app', 0), exited(p, 'helper', 3)]);
    expect(summary(computePodActions(p, status))).toEqual({
      killPod: true,
      createSandbox: false,
      attempt: 0,
      init: [],
      start: [],
      kill: [],
      initFailed: false,
    });
  });

  test('one container still running keeps the pod', () => {
    const p = pod({ restartPolicy: 'Never', ...twoApps });
    const status = runtimeStatus(p, [sandbox(p)], [exited(p, 'app', 0), instance(p, 'helper')]);
    expect(summary(computePodActions(p, status))).toMatchObject({ killPod: false, start: [] });
  });
});

describe('shouldStart', () => {
  test('a container that never ran starts', () => {
    expect(shouldStart('Never', undefined)).toBe(true);
  });

  test('a running container does not', () => {
    const p = pod();
    expect(shouldStart('Always', instance(p, 'main'))).toBe(false);
  });
});

describe('computePodActions: failed liveness and startup probes', () => {
  const live = { livenessProbe: { exec: { command: ['true'] } } };
  const failed =
    (probe: 'liveness' | 'startup', id: string) =>
    (containerId: string): 'liveness' | 'startup' | undefined =>
      containerId === id ? probe : undefined;

  test('a liveness failure kills the container and restarts it under Always', () => {
    const p = pod({ containers: [ctr('main', live)] });
    const main = instance(p, 'main', { id: 'main-1' });
    const actions = computePodActions(p, runtimeStatus(p, [sandbox(p)], [main]), failed('liveness', 'main-1'));
    expect(summary(actions)).toMatchObject({ killPod: false, kill: ['main-1'], start: ['main'] });
    expect(actions.containersToKill[0]).toEqual({ id: 'main-1', name: 'main', message: 'Container main failed liveness probe, will be restarted' });
  });

  test('under Never the container is killed and not restarted, and the message says nothing of a restart', () => {
    const p = pod({ restartPolicy: 'Never', containers: [ctr('main', live)] });
    const main = instance(p, 'main', { id: 'main-1' });
    const actions = computePodActions(p, runtimeStatus(p, [sandbox(p)], [main]), failed('liveness', 'main-1'));
    expect(summary(actions)).toMatchObject({ kill: ['main-1'], start: [] });
    expect(actions.containersToKill[0]!.message).toBe('Container main failed liveness probe');
  });

  test("a startup failure kills with the startup wording and the probe's own grace period", () => {
    const p = pod({ containers: [ctr('main', { startupProbe: { exec: { command: ['true'] }, terminationGracePeriodSeconds: 7 } })] });
    const main = instance(p, 'main', { id: 'main-1' });
    const actions = computePodActions(p, runtimeStatus(p, [sandbox(p)], [main]), failed('startup', 'main-1'));
    expect(actions.containersToKill[0]).toEqual({
      id: 'main-1',
      name: 'main',
      message: 'Container main failed startup probe, will be restarted',
      gracePeriodSeconds: 7,
    });
  });

  test('a failed probe of another container changes nothing here', () => {
    const p = pod({ containers: [ctr('main', live)] });
    const main = instance(p, 'main', { id: 'main-1' });
    expect(summary(computePodActions(p, runtimeStatus(p, [sandbox(p)], [main]), failed('liveness', 'other')))).toMatchObject({ kill: [], start: [] });
  });

  test('a sidecar that fails its liveness probe is killed and restarted, even under Never', () => {
    const p = pod({ restartPolicy: 'Never', initContainers: [ctr('proxy', { restartPolicy: 'Always', ...live })], containers: [ctr('main')] });
    const proxy = instance(p, 'proxy', { id: 'proxy-1', kind: 'init' });
    const main = instance(p, 'main', { id: 'main-1' });
    const actions = computePodActions(p, runtimeStatus(p, [sandbox(p)], [proxy, main]), failed('liveness', 'proxy-1'));
    expect(summary(actions)).toMatchObject({ killPod: false, kill: ['proxy-1'], init: ['proxy'], start: [] });
  });

  test('a sidecar failing its startup probe during initialization is restarted before the app starts', () => {
    const p = pod({ initContainers: [ctr('proxy', { restartPolicy: 'Always', startupProbe: { exec: { command: ['true'] } } })], containers: [ctr('main')] });
    const proxy = instance(p, 'proxy', { id: 'proxy-1', kind: 'init' });
    const actions = computePodActions(p, runtimeStatus(p, [sandbox(p)], [proxy]), failed('startup', 'proxy-1'));
    expect(summary(actions)).toMatchObject({ kill: ['proxy-1'], init: ['proxy'], start: [] });
  });
});

import { describe, expect, test } from 'vitest';
import type { ContainerStatus, DefaultedPod, PodStatus } from '../../../../common/api/types.js';
import type { RuntimeContainerStatus, RuntimePodStatus } from '../../../../agent/runtime/runtime.js';
import { generatePodStatus, podPhase, withContainerReadiness, type PodStatusInput } from '../../../../agent/status/generate-pod-status.js';
import type { ContainerWaitingReason } from '../../../../agent/status/reason-cache.js';
import { ctr, exited, instance, pod, runtimeStatus, sandbox } from '../../fixtures.js';
import { activeDeadlineRemainingMs } from '../../../../agent/status/active-deadline.js';
import { rfc3339 } from '../../../../common/util/clock.js';

// ---- podPhase, on container statuses written by hand ---------------------------------------

const base = (name: string): ContainerStatus => ({ name, image: 'x', imageID: '', ready: false, restartCount: 0 });
const running = (name: string, started = true): ContainerStatus => ({ ...base(name), started, state: { running: {} } });
const terminated = (name: string, exitCode: number): ContainerStatus => ({ ...base(name), state: { terminated: { exitCode } } });
const waiting = (name: string, lastExitCode?: number): ContainerStatus => ({
  ...base(name),
  state: { waiting: { reason: 'CrashLoopBackOff' } },
  ...(lastExitCode !== undefined ? { lastState: { terminated: { exitCode: lastExitCode } } } : {}),
});

type Policy = 'Always' | 'OnFailure' | 'Never';
const phaseOf = (p: DefaultedPod, statuses: ContainerStatus[]): string => {
  const initNames = new Set((p.spec.initContainers ?? []).map((c) => c.name));
  return podPhase(
    p,
    statuses.filter((s) => initNames.has(s.name)),
    statuses.filter((s) => !initNames.has(s.name)),
  );
};
const apps = (restartPolicy: Policy = 'Always'): DefaultedPod => pod({ restartPolicy, containers: [ctr('a'), ctr('b')] });
const withInit = (restartPolicy: Policy = 'Always'): DefaultedPod => pod({ restartPolicy, initContainers: [ctr('init')], containers: [ctr('a')] });
const withSidecar = (restartPolicy: Policy = 'Always'): DefaultedPod =>
  pod({ restartPolicy, initContainers: [ctr('side', { restartPolicy: 'Always' })], containers: [ctr('a')] });

describe('podPhase: regular init containers', () => {
  test('an init container without a status is pending: Pending', () => {
    expect(phaseOf(withInit(), [waiting('a')])).toBe('Pending');
  });

  test('a running init container is pending: Pending', () => {
    expect(phaseOf(withInit(), [running('init'), waiting('a')])).toBe('Pending');
  });

  test('a waiting init container that never ran is pending: Pending', () => {
    expect(phaseOf(withInit(), [waiting('init'), waiting('a')])).toBe('Pending');
  });

  test('an init container that exited non-zero fails the pod under Never', () => {
    expect(phaseOf(withInit('Never'), [terminated('init', 1), waiting('a')])).toBe('Failed');
  });

  test('an init container waiting after a non-zero exit fails the pod under Never', () => {
    expect(phaseOf(withInit('Never'), [waiting('init', 2), waiting('a')])).toBe('Failed');
  });

  test.each(['OnFailure', 'Always'] as const)('a failed init container under %s leaves the pod Pending', (policy) => {
    expect(phaseOf(withInit(policy), [waiting('init', 1), waiting('a')])).toBe('Pending');
  });

  test('once init succeeded, the app container decides: Running', () => {
    expect(phaseOf(withInit(), [terminated('init', 0), running('a')])).toBe('Running');
  });
});

describe('podPhase: app containers', () => {
  test('all running: Running', () => {
    expect(phaseOf(apps(), [running('a'), running('b')])).toBe('Running');
  });

  test('one waiting to start: Pending, even with another running', () => {
    expect(phaseOf(apps(), [running('a'), waiting('b')])).toBe('Pending');
  });

  test('a container without a status is unknown: Pending', () => {
    expect(phaseOf(apps(), [running('a')])).toBe('Pending');
  });

  test('one running and one stopped: Running', () => {
    expect(phaseOf(apps('Never'), [running('a'), terminated('b', 1)])).toBe('Running');
  });

  test('waiting after a termination counts as stopped (CrashLoopBackOff under Always: Running)', () => {
    expect(phaseOf(apps(), [waiting('a', 1), waiting('b', 0)])).toBe('Running');
  });

  test.each([
    ['Always', [0, 0], 'Running'],
    ['Always', [0, 1], 'Running'],
    ['OnFailure', [0, 0], 'Succeeded'],
    ['OnFailure', [0, 1], 'Running'],
    ['Never', [0, 0], 'Succeeded'],
    ['Never', [0, 1], 'Failed'],
  ] as const)('all stopped under %s with exit codes %j: %s', (policy, [codeA, codeB], phase) => {
    expect(phaseOf(apps(policy), [terminated('a', codeA), terminated('b', codeB)])).toBe(phase);
  });

  test('under Never, a container waiting after a success and one that failed: Failed', () => {
    expect(phaseOf(apps('Never'), [waiting('a', 0), terminated('b', 1)])).toBe('Failed');
  });
});

describe('podPhase: sidecars', () => {
  test('a sidecar running but not yet started, before any app container ran: Pending', () => {
    expect(phaseOf(withSidecar(), [running('side', false), waiting('a')])).toBe('Pending');
  });

  test('a sidecar that never ran is waiting: Pending', () => {
    expect(phaseOf(withSidecar(), [waiting('side'), waiting('a')])).toBe('Pending');
  });

  test('a started sidecar and a running app container: Running', () => {
    expect(phaseOf(withSidecar(), [running('side'), running('a')])).toBe('Running');
  });

  test('a sidecar restarting (not started) after the app container ran does not make the pod Pending', () => {
    expect(phaseOf(withSidecar(), [running('side', false), running('a')])).toBe('Running');
  });

  test('a sidecar waiting after a termination is not counted', () => {
    expect(phaseOf(withSidecar(), [waiting('side', 1), running('a')])).toBe('Running');
  });

  test('a terminated sidecar is ignored: the app container decides', () => {
    expect(phaseOf(withSidecar('Never'), [terminated('side', 137), terminated('a', 0)])).toBe('Succeeded');
  });

  test('a sidecar still running keeps a pod whose app containers finished Running', () => {
    expect(phaseOf(withSidecar('Never'), [running('side'), terminated('a', 0)])).toBe('Running');
  });

  test('a sidecar without a status is unknown: Pending', () => {
    expect(phaseOf(withSidecar(), [running('a')])).toBe('Pending');
  });
});

// ---- generatePodStatus ---------------------------------------------------------------------

const NOW = Date.parse('2024-05-01T10:00:00Z');

function input(p: DefaultedPod, runtime: RuntimePodStatus, extra: Partial<PodStatusInput> = {}, reasons: Record<string, ContainerWaitingReason> = {}): PodStatusInput {
  return {
    pod: p,
    runtime,
    previous: undefined,
    reason: (name) => reasons[name],
    terminationMessages: new Map(),
    health: (c: RuntimeContainerStatus) => ({ started: c.state === 'running', ready: c.state === 'running' }),
    hostIPs: ['192.168.1.10'],
    now: NOW,
    ...extra,
  };
}

const statusOf = (p: DefaultedPod, runtime: RuntimePodStatus, extra: Partial<PodStatusInput> = {}, reasons: Record<string, ContainerWaitingReason> = {}): PodStatus =>
  generatePodStatus(input(p, runtime, extra, reasons));

const condition = (status: PodStatus, type: string) => status.conditions?.find((c) => c.type === type);
const app = (status: PodStatus, name = 'main'): ContainerStatus => status.containerStatuses!.find((c) => c.name === name)!;

describe('generatePodStatus: phase stickiness', () => {
  test.each(['Succeeded', 'Failed'] as const)('a terminal previous phase (%s) never moves back', (previousPhase) => {
    const p = pod();
    const status = statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'main')]), { previous: { phase: previousPhase } });
    expect(status.phase).toBe(previousPhase);
  });

  test('reason and message are kept while the phase stays the same', () => {
    const p = pod();
    const status = statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'main')]), { previous: { phase: 'Running', reason: 'Why', message: 'because' } });
    expect([status.phase, status.reason, status.message]).toEqual(['Running', 'Why', 'because']);
  });

  test('reason and message are dropped when the phase changes', () => {
    const p = pod();
    const status = statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'main')]), { previous: { phase: 'Pending', reason: 'Why', message: 'because' } });
    expect([status.phase, status.reason, status.message]).toEqual(['Running', undefined, undefined]);
  });
});

describe('generatePodStatus: conditions', () => {
  test('come in the order PodReadyToStartContainers, Initialized, Ready, ContainersReady, PodScheduled', () => {
    const p = pod();
    const status = statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'main')]));
    expect(status.conditions!.map((c) => [c.type, c.status])).toEqual([
      ['PodReadyToStartContainers', 'True'],
      ['Initialized', 'True'],
      ['Ready', 'True'],
      ['ContainersReady', 'True'],
      ['PodScheduled', 'True'],
    ]);
    expect(condition(status, 'Ready')).toEqual({ type: 'Ready', status: 'True', lastTransitionTime: '2024-05-01T10:00:00Z' });
  });

  test('before the sandbox exists: not ready to start containers, yet Initialized (no init containers) and scheduled', () => {
    const p = pod();
    const status = statusOf(p, runtimeStatus(p, []));
    expect(status.conditions!.map((c) => [c.type, c.status])).toEqual([
      ['PodReadyToStartContainers', 'False'],
      ['Initialized', 'True'],
      ['Ready', 'False'],
      ['ContainersReady', 'False'],
      ['PodScheduled', 'True'],
    ]);
  });

  test('init containers not done: Initialized False, ContainersNotInitialized, naming them', () => {
    const p = pod({ initContainers: [ctr('first'), ctr('second')], containers: [ctr('main')] });
    const status = statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'first')]));
    expect(condition(status, 'Initialized')).toEqual({
      type: 'Initialized',
      status: 'False',
      reason: 'ContainersNotInitialized',
      message: 'containers with incomplete status: [first second]',
      lastTransitionTime: '2024-05-01T10:00:00Z',
    });
  });

  test('a sidecar counts as initialized once started', () => {
    const p = pod({ initContainers: [ctr('side', { restartPolicy: 'Always' })], containers: [ctr('main')] });
    const status = statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'side')]));
    expect(condition(status, 'Initialized')?.status).toBe('True');
  });

  test('unready containers: Ready and ContainersReady False, ContainersNotReady, naming them in spec order', () => {
    const p = pod({ containers: [ctr('a'), ctr('b'), ctr('c')] });
    const status = statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'b')]));
    for (const type of ['Ready', 'ContainersReady']) {
      expect(condition(status, type)).toMatchObject({ status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [a c]' });
    }
  });

  test('a sidecar must be ready for the pod to be ready', () => {
    const p = pod({ initContainers: [ctr('side', { restartPolicy: 'Always' })], containers: [ctr('main')] });
    const notReady = (c: RuntimeContainerStatus) => ({ started: true, ready: c.name !== 'side' });
    const status = statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'main'), instance(p, 'side')]), { health: notReady });
    expect(condition(status, 'ContainersReady')).toMatchObject({ status: 'False', message: 'containers with unready status: [side]' });
  });

  test('a Succeeded pod: Ready and ContainersReady False with PodCompleted and no message; Initialized True with PodCompleted', () => {
    const p = pod({ restartPolicy: 'Never' });
    const status = statusOf(p, runtimeStatus(p, [sandbox(p, { state: 'notready' })], [exited(p, 'main', 0)]));
    expect(status.phase).toBe('Succeeded');
    expect(condition(status, 'Ready')).toEqual({ type: 'Ready', status: 'False', reason: 'PodCompleted', lastTransitionTime: '2024-05-01T10:00:00Z' });
    expect(condition(status, 'ContainersReady')).toMatchObject({ status: 'False', reason: 'PodCompleted' });
    expect(condition(status, 'Initialized')).toMatchObject({ status: 'True', reason: 'PodCompleted' });
  });

  test('a Failed pod: Ready and ContainersReady False with PodFailed', () => {
    const p = pod({ restartPolicy: 'Never' });
    const status = statusOf(p, runtimeStatus(p, [sandbox(p, { state: 'notready' })], [exited(p, 'main', 1)]));
    expect(status.phase).toBe('Failed');
    expect(condition(status, 'Ready')).toEqual({ type: 'Ready', status: 'False', reason: 'PodFailed', lastTransitionTime: '2024-05-01T10:00:00Z' });
    expect(condition(status, 'ContainersReady')).toMatchObject({ status: 'False', reason: 'PodFailed' });
  });

  test('lastTransitionTime is kept while a condition keeps its status', () => {
    const p = pod();
    const runtime = runtimeStatus(p, [sandbox(p)], [instance(p, 'main')]);
    const first = statusOf(p, runtime);
    const later = statusOf(p, runtime, { previous: first, now: NOW + 60_000 });
    expect(later.conditions).toEqual(first.conditions);
  });

  test('lastTransitionTime moves when a condition changes status', () => {
    const p = pod();
    const first = statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'main')]));
    const later = statusOf(p, runtimeStatus(p, [sandbox(p)], [exited(p, 'main', 1)]), { previous: first, now: NOW + 61_500 });
    expect(condition(later, 'Ready')?.lastTransitionTime).toBe('2024-05-01T10:01:01Z');
    expect(condition(later, 'PodScheduled')?.lastTransitionTime).toBe('2024-05-01T10:00:00Z');
  });

  test('a readiness gate whose condition does not exist keeps Ready False; ContainersReady stays True', () => {
    const p = pod({ readinessGates: [{ conditionType: 'example.com/lb' }] });
    const status = statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'main')]));
    expect(condition(status, 'ContainersReady')?.status).toBe('True');
    expect(condition(status, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'ReadinessGatesNotReady',
      message: 'corresponding condition of pod readiness gate "example.com/lb" does not exist.',
    });
  });

  test('a readiness gate whose condition is True lets the pod be Ready; that condition is kept first', () => {
    const p: DefaultedPod = { ...pod({ readinessGates: [{ conditionType: 'example.com/lb' }] }), status: { conditions: [{ type: 'example.com/lb', status: 'True' }] } };
    const status = statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'main')]));
    expect(condition(status, 'Ready')?.status).toBe('True');
    expect(status.conditions![0]).toEqual({ type: 'example.com/lb', status: 'True' });
  });

  test('a readiness gate whose condition is False says so', () => {
    const p: DefaultedPod = { ...pod({ readinessGates: [{ conditionType: 'example.com/lb' }] }), status: { conditions: [{ type: 'example.com/lb', status: 'False' }] } };
    const status = statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'main')]));
    expect(condition(status, 'Ready')?.message).toBe('the status of pod readiness gate "example.com/lb" is not "True", but False');
  });
});

describe('generatePodStatus: container statuses', () => {
  test('no instance yet: waiting ContainerCreating', () => {
    const p = pod();
    expect(app(statusOf(p, runtimeStatus(p, [])))).toEqual({
      name: 'main',
      image: p.spec.containers[0]!.image,
      imageID: '',
      ready: false,
      restartCount: 0,
      started: false,
      state: { waiting: { reason: 'ContainerCreating' } },
    });
  });

  test('with init containers, app and init containers wait with PodInitializing', () => {
    const p = pod({ initContainers: [ctr('first'), ctr('second')], containers: [ctr('main')] });
    const status = statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'first')]));
    expect(app(status).state).toEqual({ waiting: { reason: 'PodInitializing' } });
    expect(status.initContainerStatuses!.map((s) => Object.keys(s.state!)[0])).toEqual(['running', 'waiting']);
    expect(status.initContainerStatuses![1]!.state).toEqual({ waiting: { reason: 'PodInitializing' } });
  });

  test('a regular init container is ready once it completed, not while running or after failing', () => {
    const p = pod({ initContainers: [ctr('done'), ctr('failed'), ctr('busy')], containers: [ctr('main')] });
    const status = statusOf(p, runtimeStatus(p, [sandbox(p)], [exited(p, 'done', 0), exited(p, 'failed', 1), instance(p, 'busy')]));
    expect(status.initContainerStatuses!.map((s) => [s.name, s.ready])).toEqual([
      ['done', true],
      ['failed', false],
      ['busy', false],
    ]);
  });

  test('a waiting reason from the reason cache replaces the default', () => {
    const p = pod();
    const status = statusOf(p, runtimeStatus(p, [sandbox(p)]), {}, { main: { reason: 'ErrImagePull', message: 'no such image' } });
    expect(app(status).state).toEqual({ waiting: { reason: 'ErrImagePull', message: 'no such image' } });
  });

  test('running: started, ready, start time, container and image IDs', () => {
    const p = pod();
    const status = app(statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'main', { startedAt: Date.parse('2024-05-01T09:59:30.600Z') })])));
    expect(status).toMatchObject({
      containerID: 'docker://main-0',
      imageID: 'docker-pullable://sha256:abc',
      started: true,
      ready: true,
      state: { running: { startedAt: '2024-05-01T09:59:30Z' } },
    });
  });

  test('exited: terminated with exit code, reason, times and the termination message', () => {
    const p = pod();
    const finished = exited(p, 'main', 3, { startedAt: Date.parse('2024-05-01T09:00:00Z'), finishedAt: Date.parse('2024-05-01T09:00:05Z') });
    const status = app(statusOf(p, runtimeStatus(p, [sandbox(p)], [finished]), { terminationMessages: new Map([['main-0', 'out of cheese']]) }));
    expect(status.state).toEqual({
      terminated: {
        exitCode: 3,
        reason: 'Error',
        message: 'out of cheese',
        startedAt: '2024-05-01T09:00:00Z',
        finishedAt: '2024-05-01T09:00:05Z',
        containerID: 'docker://main-0',
      },
    });
    expect(status.ready).toBe(false);
  });

  test('the previous instance becomes lastState; the restart count is the newest one\'s', () => {
    const p = pod();
    const containers = [instance(p, 'main', { id: 'main-1', restartCount: 1 }), exited(p, 'main', 2, { id: 'main-0', finishedAt: Date.parse('2024-05-01T09:00:05Z') })];
    const status = app(statusOf(p, runtimeStatus(p, [sandbox(p)], containers)));
    expect(status.restartCount).toBe(1);
    expect(status.state?.running).toBeDefined();
    expect(status.lastState).toEqual({
      terminated: { exitCode: 2, reason: 'Error', startedAt: '1970-01-01T00:00:02Z', finishedAt: '2024-05-01T09:00:05Z', containerID: 'docker://main-0' },
    });
  });

  test('an exited container with a waiting reason (CrashLoopBackOff) waits, its termination in lastState', () => {
    const p = pod();
    const reason = { reason: 'CrashLoopBackOff', message: 'back-off 10s restarting failed container=main pod=web_default(uid-1)' };
    const status = app(statusOf(p, runtimeStatus(p, [sandbox(p)], [exited(p, 'main', 1)]), {}, { main: reason }));
    expect(status.state).toEqual({ waiting: reason });
    expect(status.lastState?.terminated).toMatchObject({ exitCode: 1, reason: 'Error', containerID: 'docker://main-0' });
  });

  test('a running container that vanished is reported as ContainerStatusUnknown, exit 137, restartCount + 1', () => {
    const p = pod();
    const before = statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'main', { restartCount: 2 })]));
    const after = app(statusOf(p, runtimeStatus(p, [sandbox(p)], []), { previous: before }));
    expect(after.restartCount).toBe(3);
    expect(after.state).toEqual({ waiting: { reason: 'ContainerCreating' } });
    expect(after.lastState).toEqual({
      terminated: {
        exitCode: 137,
        reason: 'ContainerStatusUnknown',
        message: 'The container could not be located when the pod was deleted.  The container used to be Running',
        containerID: 'docker://main-0',
      },
    });
  });

  test('the vanished container is still counted on the next status, not counted twice', () => {
    const p = pod();
    const first = statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'main', { restartCount: 2 })]));
    const second = statusOf(p, runtimeStatus(p, [sandbox(p)], []), { previous: first });
    const third = app(statusOf(p, runtimeStatus(p, [sandbox(p)], []), { previous: second }));
    expect(third.restartCount).toBe(3);
    expect(third.lastState?.terminated?.reason).toBe('ContainerStatusUnknown');
  });

  test('a vanished running container keeps the pod out of Pending under Always', () => {
    const p = pod();
    const before = statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'main')]));
    expect(statusOf(p, runtimeStatus(p, [sandbox(p)], []), { previous: before }).phase).toBe('Running');
  });

  test('a terminated container removed from the runtime keeps its last reported state', () => {
    const p = pod({ restartPolicy: 'Never' });
    const before = statusOf(p, runtimeStatus(p, [sandbox(p)], [exited(p, 'main', 4)]));
    const after = app(statusOf(p, runtimeStatus(p, [sandbox(p)], []), { previous: before }));
    expect(after.state?.terminated?.exitCode).toBe(4);
    expect(after.containerID).toBe('docker://main-0');
  });
});

describe('generatePodStatus: pod fields', () => {
  test('podIP from the sandbox, hostIP from the node, startTime from the earliest object', () => {
    const p = pod();
    const status = statusOf(p, runtimeStatus(p, [sandbox(p, { createdAt: Date.parse('2024-05-01T09:00:00.900Z') })], [instance(p, 'main')]));
    expect(status).toMatchObject({
      podIP: '10.244.0.5',
      podIPs: [{ ip: '10.244.0.5' }],
      hostIP: '192.168.1.10',
      hostIPs: [{ ip: '192.168.1.10' }],
      startTime: '1970-01-01T00:00:02Z',
    });
  });

  test('a hostNetwork pod has the host IP as pod IP', () => {
    const p = pod({ hostNetwork: true });
    expect(statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'main')])).podIP).toBe('192.168.1.10');
  });

  test('no pod IP without a ready sandbox; startTime is now for a pod not yet in the runtime', () => {
    const p = pod();
    const status = statusOf(p, runtimeStatus(p, []));
    expect(status.podIP).toBeUndefined();
    expect(status.startTime).toBe('2024-05-01T10:00:00Z');
  });

  test('startTime is kept from the previous status', () => {
    const p = pod();
    expect(statusOf(p, runtimeStatus(p, []), { previous: { startTime: '2024-01-01T00:00:00Z' } }).startTime).toBe('2024-01-01T00:00:00Z');
  });
});

describe('generatePodStatus: activeDeadlineSeconds', () => {
  const started = (seconds: number): PodStatus => ({ phase: 'Running', startTime: rfc3339(NOW - seconds * 1000) });

  test('a pod past its deadline, counted from its startTime, is Failed with DeadlineExceeded', () => {
    const p = pod({ activeDeadlineSeconds: 30 });
    const status = statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'main')]), { previous: started(30) });
    expect([status.phase, status.reason, status.message]).toEqual(['Failed', 'DeadlineExceeded', 'Pod was active on the node longer than the specified deadline']);
  });

  test('before its deadline it runs on', () => {
    const p = pod({ activeDeadlineSeconds: 30 });
    expect(statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'main')]), { previous: started(29) }).phase).toBe('Running');
  });

  test('a pod that succeeded before its deadline stays Succeeded', () => {
    const p = pod({ activeDeadlineSeconds: 30, restartPolicy: 'Never' });
    const status = statusOf(p, runtimeStatus(p, [sandbox(p)], [exited(p, 'main', 0)]), { previous: { phase: 'Succeeded', startTime: rfc3339(NOW - 60_000) } });
    expect([status.phase, status.reason]).toEqual(['Succeeded', undefined]);
  });
});

describe('activeDeadlineRemainingMs', () => {
  test('what is left of the deadline from the start time; nothing without a deadline or a start', () => {
    const p = pod({ activeDeadlineSeconds: 10 });
    expect(activeDeadlineRemainingMs(p, rfc3339(NOW - 4_000), NOW)).toBe(6_000);
    expect(activeDeadlineRemainingMs(pod(), rfc3339(NOW), NOW)).toBeUndefined();
    expect(activeDeadlineRemainingMs(p, undefined, NOW)).toBeUndefined();
  });
});

describe('generatePodStatus: admission rejected the pod', () => {
  test("Failed with the rejection's reason and message, and nothing else but its QoS class: it never ran", () => {
    const p = pod();
    const rejection = { reason: 'OutOfpods', message: "Pod was rejected: Node didn't have enough resource: pods, requested: 1, used: 110, capacity: 110" };
    expect(statusOf(p, runtimeStatus(p, []), { rejection })).toEqual({ phase: 'Failed', reason: rejection.reason, message: rejection.message, qosClass: 'BestEffort' });
  });
});

describe('generatePodStatus: eviction', () => {
  const eviction = { reason: 'Evicted', message: 'Usage of EmptyDir volume "data" exceeds the limit "1Mi". ' };
  const disruption = (lastTransitionTime: string) => ({
    type: 'DisruptionTarget',
    status: 'True',
    reason: 'TerminationByKubelet',
    message: eviction.message,
    lastTransitionTime,
  });

  test('an evicted pod is Failed with reason Evicted and the eviction\'s message, though its container still runs', () => {
    const p = pod();
    const status = statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'main')]), { eviction });
    expect([status.phase, status.reason, status.message]).toEqual(['Failed', 'Evicted', eviction.message]);
  });

  test('the eviction\'s reason and message replace those of the previous status', () => {
    const p = pod();
    const previous: PodStatus = { phase: 'Running', reason: 'Why', message: 'because' };
    const status = statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'main')]), { eviction, previous });
    expect([status.phase, status.reason, status.message]).toEqual(['Failed', 'Evicted', eviction.message]);
  });

  test('adds a DisruptionTarget condition first: True, TerminationByKubelet, with the message', () => {
    const p = pod();
    const status = statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'main')]), { eviction });
    expect(status.conditions![0]).toEqual(disruption('2024-05-01T10:00:00Z'));
    expect(status.conditions!.map((c) => c.type)).toEqual(['DisruptionTarget', 'PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled']);
  });

  test('Ready and ContainersReady are False with PodFailed', () => {
    const p = pod();
    const status = statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'main')]), { eviction });
    expect(condition(status, 'Ready')).toEqual({ type: 'Ready', status: 'False', reason: 'PodFailed', lastTransitionTime: '2024-05-01T10:00:00Z' });
    expect(condition(status, 'ContainersReady')).toMatchObject({ status: 'False', reason: 'PodFailed' });
  });

  test('the DisruptionTarget lastTransitionTime stays while the eviction holds', () => {
    const p = pod();
    const first = statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'main')]), { eviction });
    const later = statusOf(p, runtimeStatus(p, [sandbox(p, { state: 'notready' })], [exited(p, 'main', 137)]), { eviction, previous: first, now: NOW + 90_000 });
    expect(condition(later, 'DisruptionTarget')).toEqual(disruption('2024-05-01T10:00:00Z'));
    expect(later.phase).toBe('Failed');
  });

  test('a DisruptionTarget condition already on the pod is replaced, not repeated', () => {
    const p: DefaultedPod = {
      ...pod(),
      status: { conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'PreemptionByScheduler', lastTransitionTime: '2024-04-01T00:00:00Z' }] },
    };
    const status = statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'main')]), { eviction });
    expect(status.conditions!.filter((c) => c.type === 'DisruptionTarget')).toEqual([disruption('2024-05-01T10:00:00Z')]);
  });

  test('the phase stays Failed after the eviction is forgotten (a terminal phase never moves back)', () => {
    const p = pod();
    const evicted = statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'main')]), { eviction });
    const after = statusOf(p, runtimeStatus(p, [sandbox(p, { state: 'notready' })], [exited(p, 'main', 137)]), { previous: evicted, now: NOW + 60_000 });
    expect([after.phase, after.reason, after.message]).toEqual(['Failed', 'Evicted', eviction.message]);
  });

  test('without an eviction there is no DisruptionTarget condition', () => {
    const p = pod();
    const status = statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'main')]), { eviction: undefined });
    expect(condition(status, 'DisruptionTarget')).toBeUndefined();
    expect(status.phase).toBe('Running');
  });
});

describe('qosClass in the status', () => {
  test('the class is reported in the status', () => {
    const p = pod({ containers: [ctr('main', { resources: { requests: { cpu: '100m' } } })] });
    expect(statusOf(p, runtimeStatus(p, [])).qosClass).toBe('Burstable');
  });
});

// ---- withContainerReadiness (the status manager's SetContainerReadiness) --------------------

describe('withContainerReadiness', () => {
  const LATER = NOW + 60_000;
  const twoApps = pod({ containers: [ctr('a'), ctr('b')] });
  /** `a` and `b` running; started and ready as `health` says (by container name). */
  const statusWith = (health: Record<string, { started: boolean; ready: boolean }>, p = twoApps): PodStatus =>
    statusOf(p, runtimeStatus(p, [sandbox(p)], [instance(p, 'a', { id: 'a-1' }), instance(p, 'b', { id: 'b-1' })]), {
      health: (c) => health[c.name] ?? { started: true, ready: true },
    });

  test('sets a started container ready; the last one makes Ready and ContainersReady True, transitioning now', () => {
    const before = statusWith({ a: { started: true, ready: true }, b: { started: true, ready: false } });
    const after = withContainerReadiness(twoApps, before, 'b-1', true, LATER)!;
    expect(app(after, 'b').ready).toBe(true);
    expect(app(after, 'a')).toEqual(app(before, 'a'));
    for (const type of ['Ready', 'ContainersReady']) {
      expect(condition(after, type)).toEqual({ type, status: 'True', lastTransitionTime: '2024-05-01T10:01:00Z' });
    }
    // Conditions that did not change keep their time.
    for (const type of ['PodReadyToStartContainers', 'Initialized', 'PodScheduled']) {
      expect(condition(after, type)).toEqual(condition(before, type));
    }
  });

  test('one ready of two: Ready stays False since before, with the new list of unready containers', () => {
    const before = statusWith({ a: { started: true, ready: false }, b: { started: true, ready: false } });
    const after = withContainerReadiness(twoApps, before, 'a-1', true, LATER)!;
    expect(condition(before, 'Ready')!.message).toBe('containers with unready status: [a b]');
    expect(condition(after, 'Ready')).toEqual({
      type: 'Ready',
      status: 'False',
      lastTransitionTime: '2024-05-01T10:00:00Z',
      reason: 'ContainersNotReady',
      message: 'containers with unready status: [b]',
    });
  });

  test('setting a ready container unready makes Ready False now', () => {
    const before = statusWith({});
    const after = withContainerReadiness(twoApps, before, 'a-1', false, LATER)!;
    expect(app(after, 'a').ready).toBe(false);
    expect(condition(after, 'ContainersReady')).toEqual({
      type: 'ContainersReady',
      status: 'False',
      lastTransitionTime: '2024-05-01T10:01:00Z',
      reason: 'ContainersNotReady',
      message: 'containers with unready status: [a]',
    });
  });

  test('a container that has not started is never made ready: nothing changes', () => {
    const before = statusWith({ a: { started: false, ready: false } });
    expect(withContainerReadiness(twoApps, before, 'a-1', true, LATER)).toBeUndefined();
  });

  test('the same readiness again: nothing changes', () => {
    const before = statusWith({});
    expect(withContainerReadiness(twoApps, before, 'a-1', true, LATER)).toBeUndefined();
  });

  test('a container ID the status does not know: nothing changes', () => {
    expect(withContainerReadiness(twoApps, statusWith({}), 'gone-1', false, LATER)).toBeUndefined();
  });

  test('the status it was given is left as it was', () => {
    const before = statusWith({ b: { started: true, ready: false } });
    const copy = structuredClone(before);
    withContainerReadiness(twoApps, before, 'b-1', true, LATER);
    expect(before).toEqual(copy);
  });

  test('a sidecar among the init container statuses counts too', () => {
    const p = pod({ initContainers: [ctr('side', { restartPolicy: 'Always' })], containers: [ctr('a')] });
    const runtime = runtimeStatus(p, [sandbox(p)], [instance(p, 'side', { id: 'side-1' }), instance(p, 'a', { id: 'a-1' })]);
    const before = statusOf(p, runtime, { health: (c) => ({ started: true, ready: c.name !== 'side' }) });
    expect(condition(before, 'Ready')!.message).toBe('containers with unready status: [side]');
    const after = withContainerReadiness(p, before, 'side-1', true, LATER)!;
    expect(after.initContainerStatuses![0]!.ready).toBe(true);
    expect(condition(after, 'Ready')!.status).toBe('True');
  });
});

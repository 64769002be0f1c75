import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { Container, LifecycleHandler } from '../../../../common/api/types.js';
import { HandlerRunner, type HookTarget } from '../../../../agent/lifecycle/handler-runner.js';
import { ContainerKiller, MinimumGracePeriodSeconds, type KillTarget } from '../../../../agent/kuberuntime/container-killer.js';
import { ctr, deferred, FakeRecorder, FakeRuntime, type Deferred } from '../../fixtures.js';

/** Hooks that finish when the test says so. */
class FakeHooks extends HandlerRunner {
  calls: Array<{ handler: LifecycleHandler; target: HookTarget; signal: AbortSignal | undefined }> = [];
  pending: Array<Deferred<void>> = [];

  override run(handler: LifecycleHandler, target: HookTarget, signal?: AbortSignal): Promise<void> {
    this.calls.push({ handler, target, signal });
    const done = deferred();
    this.pending.push(done);
    return done.promise;
  }
}

let now: number;
let runtime: FakeRuntime;
let recorder: FakeRecorder;
let hooks: FakeHooks;
let logLines: Array<Record<string, unknown>>;
let killer: ContainerKiller;

beforeEach(() => {
  vi.useFakeTimers();
  now = Date.parse('2025-06-01T12:00:00Z');
  runtime = new FakeRuntime();
  recorder = new FakeRecorder();
  hooks = new FakeHooks({ runtime, recorder });
  logLines = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logLines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      callback();
    },
  });
  killer = new ContainerKiller({ runtime, hooks, recorder, clock: { now: () => now }, logger: pino({ level: 'info' }, sink) });
});

afterEach(() => {
  vi.useRealTimers();
});

/** Moves the killer's clock and the timers together. */
async function advance(ms: number): Promise<void> {
  now += ms;
  await vi.advanceTimersByTimeAsync(ms);
}

const preStop: LifecycleHandler = { exec: { command: ['/bin/drain'] } };
const withPreStop = (): Container => ctr('main', { lifecycle: { preStop } });

function kill(extra: Partial<KillTarget> = {}): KillTarget {
  return {
    pod: { uid: 'uid-1', name: 'web', namespace: 'default' },
    containerId: 'c1',
    spec: ctr('main'),
    init: false,
    podIP: '10.244.0.5',
    gracePeriodSeconds: 10,
    ...extra,
  };
}

const mainObject = { kind: 'Pod', name: 'web', namespace: 'default', uid: 'uid-1', fieldPath: 'spec.containers{main}' };

describe('ContainerKiller: the Killing event', () => {
  test('says "Stopping container <name>" by default', async () => {
    await killer.kill(kill());
    expect(recorder.events).toEqual([{ object: mainObject, type: 'Normal', reason: 'Killing', message: 'Stopping container main' }]);
  });

  test("carries the caller's message when given", async () => {
    await killer.kill(kill({ message: 'Container main failed liveness probe, will be restarted' }));
    expect(recorder.events.map((e) => e.message)).toEqual(['Container main failed liveness probe, will be restarted']);
  });

  test("a sidecar's event points at spec.initContainers{name}", async () => {
    await killer.kill(kill({ spec: ctr('side'), init: true }));
    expect(recorder.events[0]!.object).toEqual({ ...mainObject, fieldPath: 'spec.initContainers{side}' });
  });
});

describe('ContainerKiller: without a preStop hook', () => {
  test('stops the container with the whole grace period', async () => {
    await killer.kill(kill({ gracePeriodSeconds: 10 }));
    expect(runtime.stops).toEqual([{ id: 'c1', gracePeriodSeconds: 10 }]);
    expect(hooks.calls).toEqual([]);
  });

  test('a grace period under 2 s is raised to the minimum, 2 s', async () => {
    await killer.kill(kill({ gracePeriodSeconds: 1 }));
    expect(runtime.stops).toEqual([{ id: 'c1', gracePeriodSeconds: MinimumGracePeriodSeconds }]);
    expect(MinimumGracePeriodSeconds).toBe(2);
  });
});

describe('ContainerKiller: with a preStop hook', () => {
  test('runs the hook against the container, then stops it with what is left of the grace period (3 s of 10 s: 7)', async () => {
    const killing = killer.kill(kill({ spec: withPreStop(), gracePeriodSeconds: 10 }));
    await vi.advanceTimersByTimeAsync(0);
    expect(hooks.calls).toHaveLength(1);
    expect(hooks.calls[0]!.handler).toEqual(preStop);
    expect(hooks.calls[0]!.target).toEqual({
      container: withPreStop(),
      containerId: 'c1',
      podIP: '10.244.0.5',
      podLabel: 'web_default(uid-1)',
      object: mainObject,
    });
    expect(runtime.stops).toEqual([]);
    await advance(3_000);
    hooks.pending[0]!.resolve();
    await killing;
    expect(runtime.stops).toEqual([{ id: 'c1', gracePeriodSeconds: 7 }]);
    expect(hooks.calls[0]!.signal?.aborted).toBe(true);
  });

  test('what the hook took is counted in whole seconds (2.9 s of 10 s: 8)', async () => {
    const killing = killer.kill(kill({ spec: withPreStop(), gracePeriodSeconds: 10 }));
    await advance(2_900);
    hooks.pending[0]!.resolve();
    await killing;
    expect(runtime.stops).toEqual([{ id: 'c1', gracePeriodSeconds: 8 }]);
  });

  test('a hook that outlasts the grace period is given up on at its end, and the container still gets 2 s', async () => {
    const killing = killer.kill(kill({ spec: withPreStop(), gracePeriodSeconds: 10 }));
    await advance(9_999);
    expect(runtime.stops).toEqual([]);
    expect(hooks.calls[0]!.signal?.aborted).toBe(false);
    await advance(1);
    await killing;
    expect(hooks.calls[0]!.signal?.aborted).toBe(true);
    expect(runtime.stops).toEqual([{ id: 'c1', gracePeriodSeconds: 2 }]);
    // The hook gives up once told to: that is not a FailedPreStopHook.
    hooks.pending[0]!.reject(new Error('aborted'));
    await vi.advanceTimersByTimeAsync(0);
    expect(recorder.reasons()).toEqual(['Killing']);
  });

  test('an abort (the agent stops) cuts the hook short and rejects before the container is stopped', async () => {
    const stopping = new AbortController();
    const killing = killer.kill(kill({ spec: withPreStop(), gracePeriodSeconds: 30 }), stopping.signal);
    await advance(1_000);
    stopping.abort(new Error('the agent stops'));
    await expect(killing).rejects.toThrow('the agent stops');
    expect(hooks.calls[0]!.signal?.aborted).toBe(true);
    expect(runtime.stops).toEqual([]);
  });

  test('a kill whose signal has already aborted does nothing: no event, no hook, no stop', async () => {
    const stopped = new AbortController();
    stopped.abort(new Error('the agent stops'));
    await expect(killer.kill(kill({ spec: withPreStop(), gracePeriodSeconds: 30 }), stopped.signal)).rejects.toThrow('the agent stops');
    expect([recorder.events, hooks.calls, runtime.stops]).toEqual([[], [], []]);
  });

  test('grace period 0: no hook, and the container gets the minimum 2 s', async () => {
    await killer.kill(kill({ spec: withPreStop(), gracePeriodSeconds: 0 }));
    expect(hooks.calls).toEqual([]);
    expect(runtime.stops).toEqual([{ id: 'c1', gracePeriodSeconds: 2 }]);
  });

  test('a failing hook: a FailedPreStopHook event without the error (it may hold secrets), and the kill goes on', async () => {
    const killing = killer.kill(kill({ spec: withPreStop(), gracePeriodSeconds: 10 }));
    await advance(1_000);
    hooks.pending[0]!.reject(new Error('Exec lifecycle hook ([/bin/drain]) failed - error: token=s3cret'));
    await killing;
    expect(recorder.events.slice(1)).toEqual([{ object: mainObject, type: 'Warning', reason: 'FailedPreStopHook', message: 'PreStopHook failed' }]);
    expect(runtime.stops).toEqual([{ id: 'c1', gracePeriodSeconds: 9 }]);
  });

  test("a failing hook's error goes to the log", async () => {
    const killing = killer.kill(kill({ spec: withPreStop(), gracePeriodSeconds: 10 }));
    await vi.advanceTimersByTimeAsync(0);
    hooks.pending[0]!.reject(new Error('drain failed'));
    await killing;
    expect(logLines).toHaveLength(1);
    expect(logLines[0]).toMatchObject({
      component: 'container-killer',
      msg: 'preStop hook failed',
      pod: 'web_default(uid-1)',
      container: 'main',
      containerID: 'c1',
      err: { message: 'drain failed' },
    });
  });
});

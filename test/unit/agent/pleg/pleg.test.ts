import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { PodCache } from '../../../../agent/pleg/pod-cache.js';
import { GenericPleg, type PodLifecycleEvent } from '../../../../agent/pleg/pleg.js';
import type { ContainerRuntime, RunningPod, RuntimeContainerState, RuntimeEvent, RuntimeEventHandlers } from '../../../../agent/runtime/runtime.js';

/** The two runtime calls PLEG makes, with a listing the test edits and the event handlers it captured. */
class FakeRuntime {
  pods: RunningPod[] = [];
  handlers: RuntimeEventHandlers | undefined;
  unsubscribed = false;
  listCalls = 0;
  failNextList = false;
  /** When set, listPods waits for this before answering. */
  gate: Promise<void> | undefined;

  async listPods(): Promise<RunningPod[]> {
    this.listCalls += 1;
    if (this.gate) await this.gate;
    if (this.failNextList) {
      this.failNextList = false;
      throw new Error('docker is down');
    }
    return structuredClone(this.pods);
  }

  watchEvents(handlers: RuntimeEventHandlers): () => void {
    this.handlers = handlers;
    return () => {
      this.unsubscribed = true;
    };
  }

  asRuntime(): ContainerRuntime {
    // PLEG only lists and follows events; nothing else of the runtime is reached.
    return this as unknown as ContainerRuntime;
  }
}

const podRef = { uid: 'uid-1', name: 'web', namespace: 'default' };

function listing(sandboxReady: boolean, containers: Array<[string, RuntimeContainerState]>): RunningPod[] {
  return [
    {
      pod: podRef,
      sandboxes: [{ id: 'sandbox-1', state: sandboxReady ? 'ready' : 'notready', createdAt: 1 }],
      containers: containers.map(([id, state]) => ({ id, name: id.replace(/-\d+$/, ''), image: 'x', state, createdAt: 2 })),
    },
  ];
}

let now = 5_000;
let runtime: FakeRuntime;
let pleg: GenericPleg;
let events: PodLifecycleEvent[];
let cache: PodCache;
/** How many times the cache read a pod from the runtime. */
let podReads: number;

const seen = (): string[] => events.map((e) => `${e.type} ${e.containerId}`);

beforeEach(() => {
  now = 5_000;
  runtime = new FakeRuntime();
  podReads = 0;
  cache = new PodCache({
    read: async (pod) => {
      podReads += 1;
      return { pod, sandboxes: [], containers: [] };
    },
  });
  pleg = new GenericPleg({ runtime: runtime.asRuntime(), cache, relistPeriodMs: 60_000, fallbackRelistPeriodMs: 60_000, clock: { now: () => now }, logger: pino({ level: 'silent' }) });
  events = [];
  pleg.onEvent((event) => events.push(event));
});

afterEach(() => {
  pleg.stop();
});

describe('GenericPleg relist', () => {
  test('the first relist reports running containers and a ready sandbox as started', async () => {
    runtime.pods = listing(true, [['main-0', 'running']]);
    await pleg.start();
    expect(seen()).toEqual(['ContainerStarted sandbox-1', 'ContainerStarted main-0']);
    expect(events.every((e) => e.podUID === 'uid-1')).toBe(true);
  });

  test('nothing changed: no events', async () => {
    runtime.pods = listing(true, [['main-0', 'running']]);
    await pleg.start();
    events = [];
    await pleg.relist();
    expect(seen()).toEqual([]);
  });

  test('running -> exited is ContainerDied', async () => {
    runtime.pods = listing(true, [['main-0', 'running']]);
    await pleg.start();
    events = [];
    runtime.pods = listing(true, [['main-0', 'exited']]);
    await pleg.relist();
    expect(seen()).toEqual(['ContainerDied main-0']);
  });

  test('exited -> gone is ContainerRemoved', async () => {
    runtime.pods = listing(true, [['main-0', 'exited']]);
    await pleg.start();
    events = [];
    runtime.pods = listing(true, []);
    await pleg.relist();
    expect(seen()).toEqual(['ContainerRemoved main-0']);
  });

  test('a new container that is only created is ContainerChanged; once running, ContainerStarted', async () => {
    runtime.pods = listing(true, []);
    await pleg.start();
    events = [];
    runtime.pods = listing(true, [['main-0', 'created']]);
    await pleg.relist();
    runtime.pods = listing(true, [['main-0', 'running']]);
    await pleg.relist();
    expect(seen()).toEqual(['ContainerChanged main-0', 'ContainerStarted main-0']);
  });

  test('a created container that exits without running is ContainerDied', async () => {
    runtime.pods = listing(true, [['main-0', 'created']]);
    await pleg.start();
    events = [];
    runtime.pods = listing(true, [['main-0', 'exited']]);
    await pleg.relist();
    expect(seen()).toEqual(['ContainerDied main-0']);
  });

  test('a sandbox that stops being ready is ContainerDied', async () => {
    runtime.pods = listing(true, []);
    await pleg.start();
    events = [];
    runtime.pods = listing(false, []);
    await pleg.relist();
    expect(seen()).toEqual(['ContainerDied sandbox-1']);
  });

  test('running -> gone, its death unseen, is ContainerDied then ContainerRemoved', async () => {
    runtime.pods = listing(true, [['main-0', 'running']]);
    await pleg.start();
    events = [];
    runtime.pods = listing(true, []);
    await pleg.relist();
    expect(seen()).toEqual(['ContainerDied main-0', 'ContainerRemoved main-0']);
  });

  test('a container first seen already exited is ContainerDied', async () => {
    runtime.pods = listing(true, [['main-0', 'exited']]);
    await pleg.start();
    expect(seen()).toEqual(['ContainerStarted sandbox-1', 'ContainerDied main-0']);
  });

  test('a whole pod gone from the runtime: every object of it is removed', async () => {
    runtime.pods = listing(false, [['main-0', 'exited']]);
    await pleg.start();
    events = [];
    runtime.pods = [];
    await pleg.relist();
    expect(seen()).toEqual(['ContainerRemoved sandbox-1', 'ContainerRemoved main-0']);
  });

  test('runningPods is the last listing and lastRelistTime when it completed', async () => {
    runtime.pods = listing(true, [['main-0', 'running']]);
    await pleg.start();
    now = 9_000;
    runtime.pods = [];
    await pleg.relist();
    expect(pleg.runningPods()).toEqual([]);
    expect(pleg.lastRelistTime()).toBe(9_000);
  });

  test('a failed listing changes nothing: no events, the previous listing stands', async () => {
    runtime.pods = listing(true, [['main-0', 'running']]);
    await pleg.start();
    events = [];
    now = 9_000;
    runtime.failNextList = true;
    runtime.pods = [];
    await pleg.relist();
    expect(seen()).toEqual([]);
    expect(pleg.runningPods()).toHaveLength(1);
    expect(pleg.lastRelistTime()).toBe(5_000);
  });

  test('relists asked for during a relist share it and queue one more, not one each', async () => {
    await pleg.start();
    const callsBefore = runtime.listCalls;
    let open!: () => void;
    runtime.gate = new Promise((resolve) => (open = resolve));
    const first = pleg.relist();
    const second = pleg.relist();
    const third = pleg.relist();
    open();
    await Promise.all([first, second, third]);
    expect(runtime.listCalls - callsBefore).toBe(2);
  });
});

describe('GenericPleg runtime events', () => {
  const event = (type: RuntimeEvent['type'], containerId: string, containerName = 'main'): RuntimeEvent => ({ type, containerId, podUID: 'uid-1', containerName, time: now });

  test('started, died and removed events become lifecycle events at once; created does not', async () => {
    await pleg.start();
    const { onEvent } = runtime.handlers!;
    onEvent(event('created', 'main-0'));
    onEvent(event('started', 'main-0'));
    onEvent(event('died', 'main-0'));
    onEvent(event('removed', 'main-0'));
    expect(seen()).toEqual(['ContainerStarted main-0', 'ContainerDied main-0', 'ContainerRemoved main-0']);
  });

  test('an event already seen is not reported again by the next relist', async () => {
    await pleg.start();
    runtime.handlers!.onEvent(event('started', 'main-0'));
    runtime.pods = listing(true, [['main-0', 'running']]);
    events = [];
    await pleg.relist();
    expect(seen()).toEqual(['ContainerStarted sandbox-1']);
  });

  test('a sandbox event is tracked as the sandbox: a relist showing it not ready reports it died', async () => {
    runtime.pods = listing(true, []);
    await pleg.start();
    runtime.handlers!.onEvent(event('died', 'sandbox-1', 'POD'));
    events = [];
    runtime.pods = listing(false, []);
    await pleg.relist();
    expect(seen()).toEqual([]);
  });

  test('a reconnected event stream triggers a relist', async () => {
    await pleg.start();
    const callsBefore = runtime.listCalls;
    runtime.pods = listing(true, []);
    runtime.handlers!.onConnected();
    expect(runtime.listCalls - callsBefore).toBe(1);
    await pleg.relist();
    expect(seen()).toEqual(['ContainerStarted sandbox-1']);
  });

  test('stop unsubscribes from the runtime events', async () => {
    await pleg.start();
    pleg.stop();
    expect(runtime.unsubscribed).toBe(true);
  });

  test("an event marks its pod changed in the cache before any listener hears of it", async () => {
    runtime.pods = listing(true, [['main-0', 'running']]);
    await pleg.start();
    await cache.get(podRef);
    await cache.get(podRef);
    expect(podReads).toBe(1);
    const heard: Array<Promise<unknown>> = [];
    pleg.onEvent(() => heard.push(cache.get(podRef)));
    runtime.handlers!.onEvent(event('died', 'main-0', 'main'));
    await Promise.all(heard);
    expect(heard).toHaveLength(1);
    expect(podReads).toBe(2);
  });

  test('a relist that finds a change marks the pod; one that finds none leaves the cache as it is', async () => {
    runtime.pods = listing(true, [['main-0', 'running']]);
    await pleg.start();
    await cache.get(podRef);
    await pleg.relist();
    await cache.get(podRef);
    expect(podReads).toBe(1);
    runtime.pods = listing(true, [['main-0', 'exited']]);
    await pleg.relist();
    await cache.get(podRef);
    expect(podReads).toBe(2);
  });

  test('losing the event stream marks every pod changed', async () => {
    runtime.pods = listing(true, [['main-0', 'running']]);
    await pleg.start();
    runtime.handlers!.onConnected();
    await cache.get(podRef);
    runtime.handlers!.onDisconnected(new Error('stream closed'));
    await cache.get(podRef);
    expect(podReads).toBe(2);
  });

  test('a container created (no lifecycle event) marks its pod changed too', async () => {
    runtime.pods = listing(true, [['main-0', 'running']]);
    await pleg.start();
    await cache.get(podRef);
    events = [];
    runtime.handlers!.onEvent(event('created', 'main-1', 'main'));
    expect(events).toEqual([]);
    await cache.get(podRef);
    expect(podReads).toBe(2);
  });
});

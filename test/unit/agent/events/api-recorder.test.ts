import { describe, expect, test } from 'vitest';
import { ApiEventRecorder, type CoreEvent } from '../../../../agent/events/api-recorder.js';
import type { InvolvedObject } from '../../../../agent/events/recorder.js';
import { memoryLogger } from '../../../helpers/memory-logger.js';
import { FakeKubeApi } from '../node/fake-kube-api.js';

const pod: InvolvedObject = { kind: 'Pod', name: 'web', namespace: 'default', uid: 'u1', fieldPath: 'spec.containers{main}' };

function setup() {
  const api = new FakeKubeApi();
  let now = Date.parse('2026-11-23T10:00:00.500Z');
  const recorder = new ApiEventRecorder({ client: api, nodeName: 'n1', clock: { now: () => now }, logger: memoryLogger().logger });
  return { api, recorder, advance: (ms: number) => (now += ms) };
}

describe('ApiEventRecorder', () => {
  test('an event becomes a core/v1 Event from the kubelet of this node', async () => {
    const { api, recorder } = setup();
    recorder.event(pod, 'Normal', 'Started', 'Started container main');
    await recorder.flush();
    const [call] = api.callsOf('create');
    expect(call!.path).toBe('/api/v1/namespaces/default/events');
    const event = call!.body as CoreEvent;
    expect(event).toMatchObject({
      involvedObject: { apiVersion: 'v1', kind: 'Pod', name: 'web', namespace: 'default', uid: 'u1', fieldPath: 'spec.containers{main}' },
      reason: 'Started',
      message: 'Started container main',
      type: 'Normal',
      source: { component: 'kubelet', host: 'n1' },
      firstTimestamp: '2026-11-23T10:00:00Z',
      lastTimestamp: '2026-11-23T10:00:00Z',
      count: 1,
    });
    expect(event.metadata.name).toMatch(/^web\.[0-9a-f]+$/);
  });

  test('events of the same millisecond get names of their own', async () => {
    const { api, recorder } = setup();
    recorder.event(pod, 'Normal', 'Pulled', 'one');
    recorder.event(pod, 'Normal', 'Created', 'two');
    await recorder.flush();
    const names = api.callsOf('create').map((call) => (call.body as CoreEvent).metadata.name);
    expect(new Set(names).size).toBe(2);
  });

  test('a Node event goes to the default namespace', async () => {
    const { api, recorder } = setup();
    recorder.event({ kind: 'Node', name: 'n1', uid: 'n1' }, 'Normal', 'NodeReady', 'Node n1 status is now: NodeReady');
    await recorder.flush();
    expect(api.callsOf('create')[0]!.path).toBe('/api/v1/namespaces/default/events');
  });

  test('the same event again within 10 minutes counts up the first one', async () => {
    const { api, recorder, advance } = setup();
    recorder.event(pod, 'Warning', 'BackOff', 'Back-off restarting failed container');
    advance(20_000);
    recorder.event(pod, 'Warning', 'BackOff', 'Back-off restarting failed container');
    await recorder.flush();
    expect(api.callsOf('create')).toHaveLength(1);
    const name = (api.callsOf('create')[0]!.body as CoreEvent).metadata.name;
    expect(api.callsOf('patch')).toEqual([{ verb: 'patch', path: `/api/v1/namespaces/default/events/${name}`, body: { count: 2, lastTimestamp: '2026-11-23T10:00:20Z' } }]);
    advance(10 * 60_000);
    recorder.event(pod, 'Warning', 'BackOff', 'Back-off restarting failed container');
    await recorder.flush();
    expect(api.callsOf('create')).toHaveLength(2);
  });

  test('the spam filter lets 25 through per object, then one per 5 minutes', async () => {
    const { api, recorder, advance } = setup();
    for (let i = 0; i < 30; i++) recorder.event(pod, 'Normal', 'Pulled', `image ${i}`);
    recorder.event({ ...pod, uid: 'u2', name: 'other' }, 'Normal', 'Pulled', 'another pod');
    await recorder.flush();
    expect(api.callsOf('create')).toHaveLength(26);
    advance(5 * 60_000);
    recorder.event(pod, 'Normal', 'Pulled', 'image 31');
    recorder.event(pod, 'Normal', 'Pulled', 'image 32');
    await recorder.flush();
    expect(api.callsOf('create')).toHaveLength(27);
  });

  test('the spam filter remembers at most 4096 objects, the least recently used leaving first', async () => {
    const { api, recorder } = setup();
    for (let i = 0; i < 26; i++) recorder.event(pod, 'Normal', 'Pulled', `image ${i}`);
    for (let i = 0; i < 4096; i++) recorder.event({ ...pod, uid: `other-${i}`, name: `other-${i}` }, 'Normal', 'Pulled', 'once');
    await recorder.flush();
    const before = api.callsOf('create').length;
    // web's exhausted bucket was pushed out: it starts full again.
    recorder.event(pod, 'Normal', 'Pulled', 'after the others');
    await recorder.flush();
    expect(api.callsOf('create').length).toBe(before + 1);
  });

  test('an event the API server refuses is dropped, and the next ones still go', async () => {
    const { api, recorder } = setup();
    api.failures.push(new Error('connection refused'));
    recorder.event(pod, 'Normal', 'Pulled', 'one');
    recorder.event(pod, 'Normal', 'Created', 'two');
    await recorder.flush();
    expect(api.calls.map((call) => (call.body as CoreEvent).reason)).toEqual(['Pulled', 'Created']);
    expect(api.objects.size).toBe(1);
  });
});

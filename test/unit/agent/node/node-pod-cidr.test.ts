import { describe, expect, test } from 'vitest';
import { waitForNodePodCIDR } from '../../../../agent/node/node-pod-cidr.js';
import { memoryLogger } from '../../../helpers/memory-logger.js';
import { FakeKubeApi } from './fake-kube-api.js';

const NodePath = '/api/v1/nodes/node-a';

/** A clock the test moves: each poll's wait moves it on by the poll period. */
function steppingClock(stepMs: number) {
  let now = 0;
  return { clock: { now: () => now }, step: () => (now += stepMs) };
}

describe('waitForNodePodCIDR', () => {
  test('waits through an unregistered Node and one without a subnet, then takes its first IPv4 subnet', async () => {
    const api = new FakeKubeApi();
    const { logger, lines } = memoryLogger();
    let polls = 0;
    const subnet = waitForNodePodCIDR({
      client: {
        ...api,
        get: async <T>(path: string) => {
          polls += 1;
          if (polls === 2) api.objects.set(NodePath, { metadata: { name: 'node-a' }, spec: {} });
          if (polls === 3) api.objects.set(NodePath, { metadata: { name: 'node-a' }, spec: { podCIDRs: ['fd00:1::/64', '10.244.3.0/24'], podCIDR: 'fd00:1::/64' } });
          return api.get<T>(path);
        },
      } as FakeKubeApi,
      nodeName: 'node-a',
      signal: new AbortController().signal,
      logger,
      pollMs: 1,
    });
    expect((await subnet)?.text).toBe('10.244.3.0/24');
    expect(polls).toBe(3);
    expect(lines.filter((line) => line.level >= 40)).toEqual([]);
    expect(lines.at(-1)).toMatchObject({ msg: "took this node's pod subnet from its Node", podCIDR: '10.244.3.0/24' });
  });

  test('says every 30 s what to check while the Node has none, and ends with undefined when stopped', async () => {
    const api = new FakeKubeApi();
    api.objects.set(NodePath, { metadata: { name: 'node-a' }, spec: {} });
    const { logger, lines } = memoryLogger();
    const { clock, step } = steppingClock(10_000);
    const stop = new AbortController();
    let polls = 0;
    const client = {
      get: async <T>(path: string) => {
        step();
        if (++polls === 7) stop.abort();
        return api.get<T>(path);
      },
    } as unknown as FakeKubeApi;
    expect(await waitForNodePodCIDR({ client, nodeName: 'node-a', signal: stop.signal, logger, clock, pollMs: 1 })).toBeUndefined();
    const reminders = lines.filter((line) => line.level === 40);
    expect(reminders.map((line) => line['waitedSeconds'])).toEqual([30, 60]);
    expect(reminders[0]!.msg).toContain('--allocate-node-cidrs');
  });
});

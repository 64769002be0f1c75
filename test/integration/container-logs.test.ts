/** Container logs kept within containerLogMaxFiles files of containerLogMaxSize, and still served whole from what is kept. */
import { stat } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { expect, test } from 'vitest';
import { busyboxPod, isReady, startAgent } from '../helpers/agent-harness.js';
import { docker } from '../helpers/docker.js';
import { waitFor } from '../helpers/wait-for.js';

const MaxSize = 64 * 1024;
const MaxFiles = 3;

test('a container writing fast keeps at most containerLogMaxFiles x containerLogMaxSize of logs; its logs (what /containerLogs serves) are all that is kept, and their tail', async () => {
  // About 1.2 MB of numbered lines, then a last one: far more than the 192 KiB kept.
  const script = 'i=0; while [ $i -lt 20000 ]; do echo "line $i of the chatty container"; i=$((i+1)); done; echo done; exec sleep 3600';
  const agent = await startAgent({
    manifests: { 'chatty.yaml': busyboxPod('chatty', script) },
    options: { containerLogMaxSize: String(MaxSize), containerLogMaxFiles: MaxFiles },
  });
  await agent.waitForPod('chatty', 'Ready', isReady);
  const logs = async (tailLines?: number): Promise<string> =>
    text(
      await agent.kubelet.api.containerLogs({
        namespace: 'default',
        pod: `chatty-${agent.nodeName}`,
        container: 'main',
        follow: false,
        previous: false,
        timestamps: false,
        ...(tailLines !== undefined ? { tailLines } : {}),
        signal: AbortSignal.timeout(10_000),
      }),
    );
  await waitFor('the last line', async () => (await logs(1)) === 'done\n');

  // Docker's json-file log and its rotated files: at most MaxFiles, none past MaxSize by more than a line.
  const logPath = (await docker.getContainer(await agent.containerId('main')).inspect()).LogPath;
  const files = (await Promise.all(Array.from({ length: MaxFiles + 1 }, (_, i) => stat(i === 0 ? logPath : `${logPath}.${i}`).catch(() => undefined)))).filter((f) => f !== undefined);
  expect(files.length).toBe(MaxFiles);
  for (const file of files) expect(file.size).toBeLessThanOrEqual(MaxSize + 200);

  // Served whole from the rotated files: the oldest lines are gone, what is kept runs on without a gap to the end.
  const lines = (await logs()).trimEnd().split('\n');
  expect(lines.at(-1)).toBe('done');
  const numbers = lines.slice(0, -1).map((line) => Number(/^line (\d+) of the chatty container$/.exec(line)?.[1]));
  expect(numbers[0]).toBeGreaterThan(0);
  expect(numbers.at(-1)).toBe(19_999);
  expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => numbers[0]! + i));
  // Each json-file line of about 90 bytes holds a 33-byte line: a third of what the files hold.
  expect(lines.length).toBeGreaterThan(MaxSize / 100);
  expect((await logs(3)).split('\n')).toEqual(['line 19998 of the chatty container', 'line 19999 of the chatty container', 'done', '']);
});

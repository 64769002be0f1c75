/** HttpSource against a real HTTP server on loopback (no Docker): bounds, empty bodies, failures. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, test } from 'vitest';
import type { ManifestObjects } from '../../../../agent/config/read-manifest.js';
import { HttpSource } from '../../../../agent/config/sources/http-source.js';
import { memoryLogger, type MemoryLogger } from '../../../helpers/memory-logger.js';
import { waitFor } from '../../../helpers/wait-for.js';

const pod = (name: string): string => `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\nspec:\n  containers:\n  - name: c\n    image: busybox:1.35\n`;

/** What the server answers next: a status, a body, and whether it is gzip-encoded. */
let answer: { status: number; body: Buffer; gzip?: boolean };
let server: Server | undefined;
let source: HttpSource | undefined;

afterEach(async () => {
  await source?.stop();
  await new Promise((resolve) => server?.close(resolve));
});

/** Starts the server and a source polling it every 50 ms; resolves after the first poll. */
async function start(): Promise<{ snapshots: ManifestObjects[]; log: MemoryLogger }> {
  server = createServer((_request, response) => {
    response.writeHead(answer.status, answer.gzip ? { 'Content-Encoding': 'gzip' } : {});
    response.end(answer.body);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/pods`;
  const log = memoryLogger();
  const snapshots: ManifestObjects[] = [];
  source = new HttpSource({ url, headers: {}, nodeName: 'node-1', checkFrequencyMs: 50, logger: log.logger, onSnapshot: (o) => snapshots.push(o) });
  await source.start();
  return { snapshots, log };
}

const names = (objects: ManifestObjects | undefined): string[] => (objects?.pods ?? []).map((p) => p.metadata.name);
const messages = (log: MemoryLogger, level: number): string[] => log.lines.filter((l) => l.level === level).map((l) => `${l.msg}${l['err'] ? `: ${String(l['err'])}` : ''}`);

describe('HttpSource', () => {
  test('a gzip body that inflates past 10 MiB is refused and the pods from before are kept', async () => {
    answer = { status: 200, body: Buffer.from(pod('web')) };
    const { snapshots, log } = await start();
    expect(names(snapshots.at(-1))).toEqual(['web-node-1']);
    answer = { status: 200, body: gzipSync(Buffer.alloc(20 * 1024 * 1024, ' ')), gzip: true };
    await waitFor('the refusal', () => messages(log, 50).length > 0);
    expect(snapshots).toHaveLength(1);
    expect(messages(log, 50)).toEqual([expect.stringMatching(/keeping the pods it gave before: .*the manifest is over 10485760 bytes; refused$/)]);
  });

  test('an empty 200 answer empties the set, and the log says so, not that pods are kept', async () => {
    answer = { status: 200, body: Buffer.from(pod('web')) };
    const { snapshots, log } = await start();
    answer = { status: 200, body: Buffer.from('') };
    await waitFor('the empty set', () => snapshots.length === 2);
    expect(names(snapshots.at(-1))).toEqual([]);
    expect(messages(log, 40)).toEqual(['the manifest URL answered with an empty body: no pods from it now']);
    expect(messages(log, 50)).toEqual([]);
  });

  test('an error status keeps the pods from before', async () => {
    answer = { status: 200, body: Buffer.from(pod('web')) };
    const { snapshots, log } = await start();
    answer = { status: 503, body: Buffer.from('busy') };
    await waitFor('the failure', () => messages(log, 50).length > 0);
    expect(snapshots).toHaveLength(1);
    expect(messages(log, 50)).toEqual([expect.stringMatching(/keeping the pods it gave before: .*HTTP 503 Service Unavailable$/)]);
  });
});

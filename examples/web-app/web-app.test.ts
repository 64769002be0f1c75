/**
 * An integration test of a small app (a frontend pod that asks a backend pod through its
 * Service) on a real node: the manifests as they are, on Docker, with no cluster.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startNode, type TestNode } from 'dockerlet';

let node: TestNode;
let scratch: string;

beforeAll(async () => {
  // Names outside the cluster go where this resolv.conf says: here, nowhere (this test needs none).
  scratch = await mkdtemp(join(tmpdir(), 'web-app-'));
  await writeFile(join(scratch, 'resolv.conf'), 'nameserver 127.0.0.1\n');
  node = await startNode({ resolvConf: join(scratch, 'resolv.conf') });
  await node.apply(join(import.meta.dirname, 'manifests'));
  await node.waitForPods(undefined, { timeout: '2m' });
}, 180_000);

afterAll(async () => {
  // Removes the pods, their network, the Services' addresses and the node's directories.
  await node?.stop();
  await rm(scratch, { recursive: true, force: true });
});

test('the frontend answers with what the backend said, through the backend Service', async () => {
  const url = await node.serviceUrl('frontend');
  const response = await fetch(`${url}/cgi-bin/hello`);
  expect(response.status).toBe(200);
  expect(await response.text()).toBe('frontend heard: hello from the backend\n');
  // What the script says on stderr is in the frontend's log.
  expect(await node.logs('frontend')).toContain('asking the backend\n');
});

test('the node port answers on this host too', async () => {
  const url = await node.serviceUrl('frontend', { nodePort: true });
  expect(await (await fetch(`${url}/cgi-bin/hello`)).text()).toContain('hello from the backend');
});

test('inside the frontend, the backend Service resolves by its DNS name', async () => {
  const { stdout, exitCode } = await node.exec('frontend', ['nslookup', 'backend.default.svc.cluster.local']);
  expect(exitCode).toBe(0);
  const backend = node.services().find((service) => service.metadata?.name === 'backend');
  expect(stdout).toContain(`Address: ${backend?.spec?.clusterIP}`);
});

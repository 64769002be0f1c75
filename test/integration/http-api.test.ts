/** The kubelet HTTP API of a real agent, and the manifest URL source. */
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, statfs } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { resolveAgentOptions } from '../../cli/options.js';
import { kubeletRequest, kubeletStream } from '../helpers/kubelet-client.js';
import { makeCa, makeCert, type Credentials } from '../helpers/pki.js';
import type { PodList } from '../../common/api/types.js';
import type { Summary } from '../../agent/stats/summary.js';
import { busyboxPod, containerStatus, isReady, startAgent } from '../helpers/agent-harness.js';
import { docker } from '../helpers/docker.js';
import { freePort } from '../helpers/test-node.js';
import { waitFor } from '../helpers/wait-for.js';

let pki: { dir: string; ca: Credentials; client: Credentials; stranger: Credentials };

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dockerlet-http-api-'));
  const ca = await makeCa(dir);
  const otherCa = await makeCa(dir, 'other-ca', '/CN=another-ca');
  pki = { dir, ca, client: await makeCert(dir, ca, 'client', '/O=ops/CN=tester'), stranger: await makeCert(dir, otherCa, 'stranger', '/O=ops/CN=tester') };
});
afterAll(async () => {
  if (pki) await rm(pki.dir, { recursive: true, force: true });
});

/**
 * An agent serving its secure port to client certificates of the test CA (and, with `anonymous`,
 * to requests without credentials), and its read-only port; `get` asks the secure port as the
 * test CA's client.
 */
async function agentWithApi(manifests: Record<string, string>, serving: { anonymous?: boolean } = {}) {
  const port = await freePort();
  const readOnlyPort = await freePort();
  const defaults = (await resolveAgentOptions({ hostnameOverride: 'unused', clientCaFile: pki.ca.cert, ...(serving.anonymous ? { anonymousAuth: true } : {}) })).options.serving;
  const agent = await startAgent({ options: { port, readOnlyPort, serving: defaults }, manifests });
  const secure = { base: `https://127.0.0.1:${port}`, cert: pki.client };
  const get = (path: string) => kubeletRequest(secure, 'GET', path);
  return { agent, secure, get, readOnly: `http://127.0.0.1:${readOnlyPort}` };
}

const counter = busyboxPod('counter', 'i=0; while true; do i=$((i+1)); echo "line $i"; sleep 0.05; done');

describe('kubelet HTTP API', () => {
  test('/healthz answers ok on both ports', async () => {
    const { get, readOnly } = await agentWithApi({});
    expect(await get('/healthz')).toMatchObject({ status: 200, body: 'ok' });
    const response = await fetch(`${readOnly}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('ok');
  });

  test("the secure port: TLS with a self-signed certificate made once in <root-dir>/pki; clients without credentials or with another CA's certificate get 401", async () => {
    const { agent, secure } = await agentWithApi({});
    const served = await new Promise<X509Certificate>((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: Number(new URL(secure.base).port), rejectUnauthorized: false }, () => {
        resolve(new X509Certificate(socket.getPeerCertificate().raw));
        socket.end();
      }).on('error', reject);
    });
    expect(served.subject).toMatch(new RegExp(`^CN=${agent.nodeName}@\\d+$`));
    expect((await readFile(join(agent.rootDir, 'pki', 'kubelet.crt'), 'utf8')).match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(await kubeletRequest({ base: secure.base }, 'GET', '/pods')).toMatchObject({ status: 401, body: 'Unauthorized' });
    expect(await kubeletRequest({ base: secure.base, cert: pki.stranger }, 'GET', '/pods')).toMatchObject({ status: 401, body: 'Unauthorized' });
    expect(await kubeletRequest({ base: secure.base, token: 'no-api-server-to-ask' }, 'GET', '/pods')).toMatchObject({ status: 401 });
    expect((await kubeletRequest(secure, 'GET', '/pods')).status).toBe(200);
  });

  test('with --anonymous-auth, a request without credentials is system:anonymous; the read-only port serves no debugging handler', async () => {
    const { agent, secure, readOnly } = await agentWithApi({ 'counter.yaml': counter }, { anonymous: true });
    await agent.waitForPod('counter', 'Ready', isReady);
    const logs = `/containerLogs/default/counter-${agent.nodeName}/main`;
    await waitFor('logs for anonymous', async () => (await kubeletRequest({ base: secure.base }, 'GET', logs)).body.includes('line 1'));
    for (const path of [logs, '/runningpods/', `/exec/default/counter-${agent.nodeName}/main?command=ls`, '/configz']) {
      const response = await fetch(`${readOnly}${path}`);
      expect.soft(response.status, path).toBe(path === '/configz' ? 404 : 405);
    }
    expect(await (await fetch(`${readOnly}${logs}`)).text()).toBe('Debug endpoints are disabled.\n');
  });

  test('/run runs a command in the container; /configz shows the configuration in force', async () => {
    const { agent, secure, get } = await agentWithApi({ 'counter.yaml': counter });
    await agent.waitForPod('counter', 'Ready', isReady);
    const run = await kubeletRequest(secure, 'POST', `/run/default/counter-${agent.nodeName}/main?cmd=echo%20hello%20run`);
    expect(run).toMatchObject({ status: 200, body: 'hello run\n' });
    expect((await kubeletRequest(secure, 'POST', `/run/default/counter-${agent.nodeName}/nope?cmd=true`)).status).toBe(404);
    const failed = await kubeletRequest(secure, 'POST', `/run/default/counter-${agent.nodeName}/main?cmd=ls%20/nonexistent`);
    expect(failed.status).toBe(500);
    expect(JSON.parse(failed.body)).toMatchObject({ message: expect.stringMatching(/^command 'ls \/nonexistent' exited with 1: ls: \/nonexistent: No such file or directory/) });
    const configz = JSON.parse((await get('/configz')).body) as { kubeletconfig: Record<string, unknown> };
    expect(configz.kubeletconfig).toMatchObject({
      kind: 'KubeletConfiguration',
      port: Number(new URL(secure.base).port),
      staticPodPath: agent.manifestDir,
      authentication: { x509: { clientCAFile: pki.ca.cert }, anonymous: { enabled: false }, webhook: { enabled: false } },
      authorization: { mode: 'AlwaysAllow' },
      syncFrequency: '1m0s',
    });
  });

  test('/pods lists the desired pods with status as a v1 PodList; /runningpods/ what Docker runs', async () => {
    const { agent, readOnly, get } = await agentWithApi({ 'counter.yaml': counter });
    await agent.waitForPod('counter', 'Ready', isReady);
    const list = (await (await fetch(`${readOnly}/pods`)).json()) as PodList;
    expect(list).toMatchObject({ kind: 'PodList', apiVersion: 'v1' });
    expect(list.items.map((p) => p.metadata?.name)).toEqual([`counter-${agent.nodeName}`]);
    expect(list.items[0]!.status?.phase).toBe('Running');
    const running = JSON.parse((await get('/runningpods/')).body) as PodList;
    expect(running.items).toEqual([
      {
        metadata: { name: `counter-${agent.nodeName}`, namespace: 'default', uid: list.items[0]!.metadata!.uid },
        spec: { containers: [{ name: 'main', image: 'dockerlet.local/busybox:1.35' }] },
      },
    ]);
  });

  test('/containerLogs serves tailLines and timestamps, follows, and 404s an unknown pod', async () => {
    const { agent, secure, get } = await agentWithApi({ 'counter.yaml': counter });
    await agent.waitForPod('counter', 'Ready', isReady);
    const path = `/containerLogs/default/counter-${agent.nodeName}/main`;
    await waitFor('some output', async () => (await get(path)).body.includes('line 5'));

    const tail = (await get(`${path}?tailLines=2`)).body.trimEnd().split('\n');
    expect(tail).toHaveLength(2);
    expect(tail[0]).toMatch(/^line \d+$/);
    const stamped = (await get(`${path}?tailLines=1&timestamps=true`)).body.trimEnd();
    expect(stamped).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z line \d+$/);

    const abort = new AbortController();
    const response = await kubeletStream(secure, 'GET', `${path}?follow=true&tailLines=0`, abort.signal);
    let followed = '';
    for await (const chunk of response) {
      followed += (chunk as Buffer).toString('utf8');
      if (/line \d+\n[\s\S]*line \d+\n/.test(followed)) break;
    }
    abort.abort();
    expect(followed).toMatch(/^line \d+\n[\s\S]*line \d+\n/);

    const missing = await get('/containerLogs/default/nope/main');
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toMatchObject({ kind: 'Status', reason: 'NotFound', message: 'pods "nope" not found in namespace "default"' });
  });

  test('/containerLogs?previous=true serves the previous instance after a restart', async () => {
    const crashing = busyboxPod('phoenix', 'echo "run $(cat /proc/sys/kernel/random/uuid)"; exec sleep 3600');
    const { agent, get } = await agentWithApi({ 'phoenix.yaml': crashing });
    const first = await agent.waitForPod('phoenix', 'Ready', isReady);
    const path = `/containerLogs/default/phoenix-${agent.nodeName}/main`;
    const firstRun = await waitFor('first output', async () => (await get(path)).body.trim());
    expect((await get(`${path}?previous=true`)).status).toBe(400);
    await docker.getContainer(containerStatus(first, 'main')!.containerID!.slice('docker://'.length)).kill();
    await agent.waitForPod('phoenix', 'restarted', (p) => containerStatus(p, 'main')?.restartCount === 1 && isReady(p));
    const secondRun = await waitFor('second output', async () => {
      const text = (await get(path)).body.trim();
      return text !== firstRun ? text : '';
    });
    expect(secondRun).toMatch(/^run [0-9a-f-]{36}$/);
    expect((await get(`${path}?previous=true`)).body.trim()).toBe(firstRun);
  });

  test('/stats/summary: the node, and each running pod with its containers, network and volumes; rates from the second call on', async () => {
    const pod = busyboxPod('stats', 'dd if=/dev/zero of=/data/blob bs=1024 count=2048 2>/dev/null; i=0; while true; do i=$((i+1)); [ $((i % 500)) = 0 ] && sleep 0.1; done', {
      spec: '  volumes:\n    - {name: data, emptyDir: {}}\n',
      container: '      volumeMounts:\n        - {name: data, mountPath: /data}\n',
    });
    const { agent, readOnly } = await agentWithApi({ 'stats.yaml': pod });
    const uid = (await agent.waitForPod('stats', 'Ready', isReady)).metadata!.uid!;
    const summaryNow = async (query = ''): Promise<Summary> => (await (await fetch(`${readOnly}/stats/summary${query}`)).json()) as Summary;
    const podOf = (summary: Summary) => summary.pods.find((p) => p.podRef.uid === uid);
    // The first sample of the container: no rate yet.
    expect(podOf(await summaryNow())!.containers[0]!.cpu).not.toHaveProperty('usageNanoCores');
    const first = await waitFor('the 2 MiB in the emptyDir', async () => {
      const summary = await summaryNow();
      return (podOf(summary)?.volume?.find((v) => v.name === 'data')?.usedBytes ?? 0) >= 2 * 1024 * 1024 ? summary : undefined;
    });
    expect(first.node).toMatchObject({ nodeName: agent.nodeName, cpu: { usageCoreNanoSeconds: expect.any(Number) }, memory: { workingSetBytes: expect.any(Number) } });
    expect(first.node.memory.availableBytes).toBeGreaterThan(0);
    expect(first.node.fs!.capacityBytes).toBeGreaterThan(first.node.fs!.availableBytes);
    expect(first.node.rlimit.maxpid).toBeGreaterThan(first.node.rlimit.curproc);
    // The engine's data root: its file system's size and free space, the images' sizes as used.
    const dataRoot = await statfs((await docker.info()).DockerRootDir as string);
    expect(first.node.runtime!.imageFs).toMatchObject({ capacityBytes: dataRoot.blocks * dataRoot.bsize, inodes: dataRoot.files });
    expect(first.node.runtime!.imageFs.usedBytes).toBeGreaterThan(0);
    expect(first.node.runtime!.containerFs).toEqual(first.node.runtime!.imageFs);
    const stats = podOf(first)!;
    expect(stats.podRef).toEqual({ name: `stats-${agent.nodeName}`, namespace: 'default', uid });
    expect(stats.containers.map((c) => c.name)).toEqual(['main']);
    expect(stats.containers[0]!.memory.workingSetBytes).toBeGreaterThan(0);
    expect(stats.containers[0]!.cpu.usageCoreNanoSeconds).toBeGreaterThan(0);
    expect(stats.network).toMatchObject({ name: 'eth0', rxBytes: expect.any(Number) });
    // From the second sample on, a rate.
    const second = podOf(await summaryNow())!;
    expect(second.containers[0]!.cpu.usageNanoCores).toBeGreaterThan(0);
    expect(second.cpu!.usageCoreNanoSeconds).toBeGreaterThanOrEqual(stats.cpu!.usageCoreNanoSeconds);
    // What metrics consumers ask for: CPU and memory alone.
    const lean = await summaryNow('?only_cpu_and_memory=true');
    expect(lean.node.fs).toBeUndefined();
    expect(lean.node.runtime).toBeUndefined();
    expect(podOf(lean)).not.toHaveProperty('volume');
    expect(podOf(lean)).not.toHaveProperty('network');
  });

  test('/metrics serves Prometheus text with the running pods', async () => {
    const { agent, readOnly } = await agentWithApi({ 'counter.yaml': counter });
    await agent.waitForPod('counter', 'Ready', isReady);
    await agent.kubelet.whenPodIdle(agent.pod('counter')!.metadata!.uid!);
    // The counts come from PLEG's last relist, which may predate the container's start: wait for one that has it.
    const text = await waitFor('a relist counting the pod and its container', async () => {
      const body = await (await fetch(`${readOnly}/metrics`)).text();
      return /^kubelet_running_pods 1$/m.test(body) && /^kubelet_running_containers\{container_state="running"\} 1$/m.test(body) ? body : '';
    });
    expect(text).toMatch(/^kubelet_pod_worker_duration_seconds_count\{operation="sync"\} \d+$/m);
    expect(text).toContain('process_resident_memory_bytes');
  });

  test('every lifecycle step is one structured log line, like a kubelet Event', async () => {
    const { agent } = await agentWithApi({ 'counter.yaml': counter });
    await agent.waitForPod('counter', 'Ready', isReady);
    await agent.removeManifest('counter.yaml');
    await waitFor('the Killing event', () => agent.log.events('Killing').length > 0);
    const reasons = agent.log.events().map((e) => e.event);
    expect(reasons).toEqual(expect.arrayContaining(['Pulled', 'Created', 'Started', 'Killing']));
    expect(agent.log.events('Started')[0]).toMatchObject({
      type: 'Normal',
      object: `Pod/default/counter-${agent.nodeName}`,
      fieldPath: 'spec.containers{main}',
      msg: 'Started container main',
      component: 'events',
    });
  });
});

describe('manifest URL', () => {
  test('pods from the URL run, are replaced when it changes, and removed when it serves nothing', async () => {
    let body = busyboxPod('remote', 'exec sleep 3600');
    const seenHeaders: string[] = [];
    const server: Server = createServer((request, response) => {
      seenHeaders.push(String(request.headers['x-token']));
      response.end(body);
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    try {
      const agent = await startAgent({
        options: {
          staticPodURL: `http://127.0.0.1:${port}/pods.yaml`,
          staticPodURLHeader: { 'X-Token': ['secret'] },
          httpCheckFrequencyMs: 300,
        },
      });
      const first = await agent.waitForPod('remote', 'Running', (p) => p.status?.phase === 'Running');
      expect(first.metadata?.annotations?.['kubernetes.io/config.source']).toBe('http');
      expect(seenHeaders[0]).toBe('secret');
      body = busyboxPod('remote', 'echo changed; exec sleep 3600');
      await agent.waitForPod('remote', 'replaced', (p) => p.metadata?.uid !== first.metadata?.uid && p.status?.phase === 'Running');
      body = '';
      await waitFor('the pod removed', async () => agent.pod('remote') === undefined && (await agent.containers()).length === 0);
    } finally {
      server.close();
    }
  });
});

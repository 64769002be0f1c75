/**
 * The kubelet's secure server on a node joined to a real control plane: the API server reaches it
 * with its kubelet client certificate for `kubectl logs`, `exec`, `attach`, `port-forward` and
 * `get --raw .../proxy/...`, and checks the serving certificate with its CA; clients straight at
 * the port are authenticated (client certificates, TokenReview, anonymous) and authorized
 * (SubjectAccessReview) as the kubelet does it. kubectl 1.32 is the client throughout.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import WebSocket from 'ws';
import { expect, onTestFinished, test } from 'vitest';
import type { Pod } from '../../common/api/types.js';
import { Defaults, resolveAgentOptions } from '../../cli/options.js';
import { firstAddress, parseIpv4Cidr } from '../../common/util/ipv4.js';
import { startAgent, type AgentHarness } from '../helpers/agent-harness.js';
import { clusterOptions, useControlPlane } from '../helpers/cluster.js';
import { docker } from '../helpers/docker.js';
import { kubeletRequest } from '../helpers/kubelet-client.js';
import { makeCa, makeCert } from '../helpers/pki.js';
import { freePort, uniqueNodeName } from '../helpers/test-node.js';
import { waitFor } from '../helpers/wait-for.js';

const plane = useControlPlane();

/**
 * Where the API server reaches the node: the pod bridge's gateway, an address of this host that is
 * not loopback (the API server refuses to proxy nodes/proxy to loopback addresses).
 */
const NodeAddress = firstAddress(parseIpv4Cidr(Defaults.podCIDR)!);

interface SecureNode {
  agent: AgentHarness;
  nodeName: string;
  /** https://<address>:<port> of the kubelet API. */
  base: string;
}

/** A node whose secure port serves a certificate of the cluster CA and trusts the cluster CA's clients; webhooks on, as in cluster mode by default. */
async function secureNode(flags: { anonymousAuth?: boolean; authorizationWebhookCacheUnauthorizedTtl?: string } = {}): Promise<SecureNode> {
  const nodeName = uniqueNodeName('s');
  const port = await freePort();
  const cluster = await clusterOptions(plane(), nodeName);
  const serving = await plane().kubeletServingCert(nodeName, NodeAddress);
  const { options } = await resolveAgentOptions({
    hostnameOverride: nodeName,
    kubeconfig: cluster.kubeconfig,
    clientCaFile: plane().caFile,
    tlsCertFile: serving.cert,
    tlsPrivateKeyFile: serving.key,
    ...flags,
  });
  const agent = await startAgent({ nodeName, options: { cluster, port, readOnlyPort: 0, address: NodeAddress, nodeIPs: [NodeAddress], serving: options.serving } });
  await waitFor(`node ${nodeName} Ready`, async () => /\sReady\s/.test(await plane().kubectl('get', 'node', nodeName, '--no-headers').catch(() => '')), { timeoutMs: 60_000 });
  return { agent, nodeName, base: `https://${NodeAddress}:${port}` };
}

/** A pod bound to the node, created through the API as cluster admin; resolves once it runs. */
async function runPod(node: SecureNode, name: string, containers: NonNullable<Pod['spec']>['containers']): Promise<void> {
  const pod: Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { nodeName: node.nodeName, terminationGracePeriodSeconds: 1, containers } };
  const created = await plane().request('POST', '/api/v1/namespaces/default/pods', pod);
  expect(created.status).toBe(201);
  await waitFor(`pod ${name} Running`, async () => ((await plane().get(`/api/v1/namespaces/default/pods/${name}`)).body as Pod).status?.phase === 'Running', { timeoutMs: 60_000 });
}

const busybox = (name: string, script: string, extra: Record<string, unknown> = {}) => ({ name, image: 'dockerlet.local/busybox:1.35', imagePullPolicy: 'Never', command: ['sh', '-c', script], ...extra });

test('kubectl logs through the API server: -c, --tail, --timestamps, -f, --previous', async () => {
  const node = await secureNode();
  await runPod(node, 'chatty', [busybox('talker', 'echo "start $(cat /proc/sys/kernel/random/uuid)"; i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.2; done'), busybox('quiet', 'echo quiet here; exec sleep 3600')]);
  const k = plane();
  const talker = await waitFor('output of talker', async () => {
    const text = await k.kubectl('logs', 'chatty', '-c', 'talker').catch(() => '');
    return /tick 3\n/.test(text) ? text : undefined;
  });
  expect(talker).toMatch(/^start [0-9a-f-]{36}\ntick 1\n/);
  expect(await k.kubectl('logs', 'chatty', '-c', 'quiet')).toBe('quiet here\n');
  expect((await k.kubectl('logs', 'chatty', '-c', 'talker', '--tail', '2')).trimEnd().split('\n')).toHaveLength(2);
  expect(await k.kubectl('logs', 'chatty', '-c', 'quiet', '--timestamps')).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z quiet here\n$/);
  // -f: the lines keep coming until kubectl is stopped.
  const follow = k.startKubectl(['logs', '-f', 'chatty', '-c', 'talker', '--tail', '1']);
  onTestFinished(() => follow.stop());
  const followed = await follow.until((out) => (out.match(/tick \d+\n/g) ?? []).length >= 3);
  await follow.stop();
  const ticks = followed.match(/tick (\d+)/g)!.map((tick) => Number(tick.slice(5)));
  expect(ticks[2]! - ticks[0]!).toBe(2);
  // --previous, after the container is killed and restarted.
  const first = talker.split('\n')[0]!;
  await docker.getContainer(await node.agent.containerId('talker')).kill();
  await waitFor('the restarted talker', async () => {
    const text = await k.kubectl('logs', 'chatty', '-c', 'talker').catch(() => '');
    return text.startsWith('start ') && !text.startsWith(first);
  });
  expect((await k.kubectl('logs', 'chatty', '-c', 'talker', '--previous')).split('\n')[0]).toBe(first);
});

test('pods/log over WebSocket through the API server (binary.k8s.io): the whole log, then the end', async () => {
  const node = await secureNode();
  // Longer than a socket's buffer, so that the end is written while earlier bytes still wait.
  const filler = 'x'.repeat(199_999);
  await runPod(node, 'socket-log', [busybox('main', `echo container is alive; head -c 199999 /dev/zero | tr '\\0' x; echo; echo the end; exec sleep 3600`)]);
  await waitFor('the whole log in Docker', async () => (await plane().kubectl('logs', 'socket-log', '-c', 'main')).endsWith('the end\n'));
  const url = `${plane().server.replace('https', 'wss')}/api/v1/namespaces/default/pods/socket-log/log?container=main`;
  // The API server reads the kubelet's body and frames it itself; the bytes it reads together with
  // the end of the body it would drop, and the log would come back empty.
  const ca = await readFile(plane().caFile);
  const socket = new WebSocket(url, ['binary.k8s.io'], { ca, headers: { Authorization: `Bearer ${plane().adminToken}` } });
  onTestFinished(() => socket.terminate());
  let log = '';
  socket.on('message', (data: Buffer) => (log += data.toString('utf8')));
  await new Promise((resolve, reject) => socket.on('close', resolve).on('error', reject));
  expect(socket.protocol).toBe('binary.k8s.io');
  expect(log).toBe(`container is alive\n${filler}\nthe end\n`);
});

test('kubectl get --raw through nodes/proxy: /stats/summary, /metrics/resource, /healthz, /configz', async () => {
  const node = await secureNode();
  await runPod(node, 'measured', [busybox('main', 'exec sleep 3600')]);
  const k = plane();
  const summary = JSON.parse(await k.kubectl('get', '--raw', `/api/v1/nodes/${node.nodeName}/proxy/stats/summary`)) as { node: { nodeName: string }; pods: Array<{ podRef: { name: string } }> };
  expect(summary.node.nodeName).toBe(node.nodeName);
  await waitFor('the pod in the summary', async () => {
    const again = JSON.parse(await k.kubectl('get', '--raw', `/api/v1/nodes/${node.nodeName}/proxy/stats/summary`)) as typeof summary;
    return again.pods.some((pod) => pod.podRef.name === 'measured');
  });
  const resource = await k.kubectl('get', '--raw', `/api/v1/nodes/${node.nodeName}/proxy/metrics/resource`);
  expect(resource).toMatch(/^node_cpu_usage_seconds_total [\d.e+-]+ \d{13}$/m);
  expect(resource).toMatch(/^container_memory_working_set_bytes\{container="main",pod="measured",namespace="default"\} \d+ \d{13}$/m);
  expect(resource).toMatch(/^scrape_error 0$/m);
  expect(await k.kubectl('get', '--raw', `/api/v1/nodes/${node.nodeName}/proxy/healthz`)).toBe('ok');
  expect(JSON.parse(await k.kubectl('get', '--raw', `/api/v1/nodes/${node.nodeName}/proxy/configz`))).toMatchObject({ kubeletconfig: { authorization: { mode: 'Webhook' } } });
});

test('straight at the port: client certificates, TokenReview and SubjectAccessReview decide, with the kubelet refusals', async () => {
  const node = await secureNode({ authorizationWebhookCacheUnauthorizedTtl: '10s' });
  const k = plane();
  const stats = '/stats/summary';
  // No credentials, anonymous off.
  expect(await kubeletRequest({ base: node.base, ca: k.caFile }, 'GET', stats)).toMatchObject({ status: 401, body: 'Unauthorized' });
  // A certificate of another CA.
  const elsewhere = await makeCa(k.dir, 'elsewhere-ca', '/CN=elsewhere');
  const forged = await makeCert(k.dir, elsewhere, 'forged-admin', '/O=system:masters/CN=forged-admin');
  expect(await kubeletRequest({ base: node.base, ca: k.caFile, cert: forged }, 'GET', stats)).toMatchObject({ status: 401 });
  // A token the API server's TokenReview rejects.
  expect(await kubeletRequest({ base: node.base, ca: k.caFile, token: 'not-a-real-token' }, 'GET', stats)).toMatchObject({ status: 401 });
  // A token it accepts, of a user RBAC allows everything.
  expect((await kubeletRequest({ base: node.base, ca: k.caFile, token: k.adminToken }, 'GET', stats)).status).toBe(200);
  // A certificate of the cluster CA whose user the SubjectAccessReview denies.
  const nobody = await k.clientCert('nobody', ['developers']);
  expect(await kubeletRequest({ base: node.base, ca: k.caFile, cert: nobody }, 'GET', stats)).toMatchObject({
    status: 403,
    body: 'Forbidden (user=nobody, verb=get, resource=nodes, subresource=stats)',
  });
  expect(await kubeletRequest({ base: node.base, ca: k.caFile, cert: nobody }, 'POST', '/exec/default/x/y?command=ls')).toMatchObject({
    status: 403,
    body: 'Forbidden (user=nobody, verb=create, resource=nodes, subresource=proxy)',
  });
  // Granted nodes/stats alone, the same user reads stats and nothing else.
  await k.kubectl('create', 'clusterrole', `stats-reader-${node.nodeName}`, '--verb=get', '--resource=nodes/stats');
  await k.kubectl('create', 'clusterrolebinding', `nobody-stats-${node.nodeName}`, `--clusterrole=stats-reader-${node.nodeName}`, '--user=nobody');
  // The denial above is kept for the unauthorized TTL (10 s here): still denied at once, allowed once it has expired.
  expect((await kubeletRequest({ base: node.base, ca: k.caFile, cert: nobody }, 'GET', stats)).status).toBe(403);
  await waitFor('nobody allowed stats', async () => (await kubeletRequest({ base: node.base, ca: k.caFile, cert: nobody }, 'GET', stats)).status === 200, { timeoutMs: 30_000, intervalMs: 500 });
  expect((await kubeletRequest({ base: node.base, ca: k.caFile, cert: nobody }, 'GET', '/pods')).status).toBe(403);
});

test('with --anonymous-auth, a request without credentials is system:anonymous, and the SubjectAccessReview decides', async () => {
  const node = await secureNode({ anonymousAuth: true });
  expect(await kubeletRequest({ base: node.base, ca: plane().caFile }, 'GET', '/pods')).toMatchObject({
    status: 403,
    body: 'Forbidden (user=system:anonymous, verb=get, resource=nodes, subresource=proxy)',
  });
});

test('kubectl exec through the API server: stdout and stderr apart, stdin, exit codes, a TTY with its size, a container the pod does not have', async () => {
  const node = await secureNode();
  await runPod(node, 'shell', [busybox('main', 'exec sleep 3600')]);
  const k = plane();
  expect(await k.kubectlResult(['exec', 'shell', '--', 'sh', '-c', 'echo out; echo err >&2'])).toEqual({ code: 0, stdout: 'out\n', stderr: 'err\n' });
  expect(await k.kubectlResult(['exec', '-i', 'shell', '--', 'sh', '-c', 'tr a-z A-Z; echo done'], { input: 'hello stdin\n' })).toMatchObject({ code: 0, stdout: 'HELLO STDIN\ndone\n' });
  expect(await k.kubectlResult(['exec', 'shell', '--', 'sh', '-c', 'exit 3'])).toMatchObject({ code: 3 });
  // kubectl 1.32 speaks WebSocket (v5.channel.k8s.io) first; told not to, SPDY/3.1, which the 1.20 API server forwards as it is.
  const spdy = { env: { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' } };
  expect(await k.kubectlResult(['exec', 'shell', '--', 'sh', '-c', 'echo over spdy; exit 5'], spdy)).toMatchObject({ code: 5, stdout: 'over spdy\n' });
  expect(await k.kubectlResult(['exec', '-i', 'shell', '--', 'cat'], { ...spdy, input: 'spdy stdin\n' })).toMatchObject({ code: 0, stdout: 'spdy stdin\n' });
  const missing = await k.kubectlResult(['exec', 'shell', '-c', 'nope', '--', 'true']);
  expect(missing.code).not.toBe(0);
  // The API server checks the container against the pod's spec before it calls the kubelet.
  expect(missing.stderr).toContain('container nope is not valid for pod shell');
  // -t needs a terminal on kubectl's side: script(1) gives it one, of 33 rows and 101 columns.
  // The terminal gets its size a moment after the command starts (Docker 20.10 cannot create an exec with one): the command waits for it.
  const tty = await terminal(`stty rows 33 cols 101; kubectl --kubeconfig ${k.adminKubeconfig} exec -it shell -- sh -c 'until [ -n "$(stty size 2>/dev/null)" ]; do :; done; stty size; tty; exit 7'`);
  expect(tty.code).toBe(7);
  expect(tty.output).toMatch(/33 101\r?\n/);
  expect(tty.output).toMatch(/\/dev\/pts\/\d+/);
});

test('kubectl exec -it ... -- sh: a command typed, its output, exit', async () => {
  const node = await secureNode();
  await runPod(node, 'interactive', [busybox('main', 'exec sleep 3600')]);
  // ash's prompt may be followed by its question for the cursor position (ESC [ 6 n), which no one here answers.
  const prompt = /[#$] (\x1b\[6n)?/;
  const session = await terminal(`stty rows 24 cols 80; kubectl --kubeconfig ${plane().adminKubeconfig} exec -it interactive -- sh`, [
    { expect: prompt, type: 'echo "six times seven is $((6*7))"\r' },
    { expect: /six times seven is 42\r\n/, type: 'exit 4\r' },
  ]);
  expect(session.code).toBe(4);
});

test('kubectl attach through the API server: stdin to the container\'s own process, its output back', async () => {
  const node = await secureNode();
  await runPod(node, 'listener', [busybox('main', 'while read line; do echo "got $line"; done; echo bye', { stdin: true, stdinOnce: true })]);
  const k = plane();
  const attached = k.startKubectl(['attach', '-i', 'listener', '-c', 'main'], { input: 'one\ntwo\n' });
  onTestFinished(() => attached.stop());
  expect(await attached.until((out) => out.includes('bye'))).toContain('got one\ngot two\nbye');
});

test('kubectl port-forward through the API server reaches a port on the pod\'s own localhost', async () => {
  const node = await secureNode();
  await runPod(node, 'served', [busybox('main', 'mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www')]);
  const k = plane();
  const forward = k.startKubectl(['port-forward', 'pod/served', ':8080']);
  onTestFinished(() => forward.stop());
  const localPort = Number((await forward.until((out) => /Forwarding from 127\.0\.0\.1:\d+ -> 8080/.test(out))).match(/127\.0\.0\.1:(\d+)/)![1]);
  for (let i = 0; i < 3; i++) {
    const response = await fetch(`http://127.0.0.1:${localPort}/index.html`);
    expect(await response.text()).toBe('hello from served\n');
  }
  // A port nothing listens on: kubectl reports the kubelet's error, and the forward of 8080 lives on.
  const closed = k.startKubectl(['port-forward', 'pod/served', ':9999']);
  onTestFinished(() => closed.stop());
  const closedPort = Number((await closed.until((out) => /Forwarding from 127\.0\.0\.1:\d+ -> 9999/.test(out))).match(/127\.0\.0\.1:(\d+)/)![1]);
  await fetch(`http://127.0.0.1:${closedPort}/`).catch(() => undefined);
  await waitFor('the kubelet error in kubectl', () => /error forwarding port 9999 to pod default\/served, uid [0-9a-f-]{36}: .*Connection refused/.test(closed.stderr));
  expect(await (await fetch(`http://127.0.0.1:${localPort}/index.html`)).text()).toBe('hello from served\n');
});

/**
 * Runs `command` in a pseudo-terminal (script(1)), as a person at a terminal would: each step
 * waits for the screen to show `expect`, then types `type`. Resolves with the exit code and
 * everything the terminal showed.
 */
async function terminal(command: string, steps: Array<{ expect: RegExp; type: string }> = []): Promise<{ code: number; output: string }> {
  const child = spawn('script', ['-qefc', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const closed = new Promise<number>((resolve) => child.on('close', (exitCode) => resolve(exitCode ?? -1)));
  let shown = 0;
  for (const step of steps) {
    await waitFor(`the terminal to show ${step.expect}`, () => {
      const match = step.expect.exec(output.slice(shown));
      if (match) shown += match.index + match[0].length;
      else if (child.exitCode !== null) throw new Error(`the command ended; the terminal showed ${JSON.stringify(output)}`);
      return match !== null;
    });
    child.stdin.write(step.type);
  }
  return { code: await closed, output };
}

test('WebSocket exec straight at the kubelet port (v4.channel.k8s.io): output by channel, the exit code in the Status', async () => {
  const node = await secureNode();
  await runPod(node, 'socketed', [busybox('main', 'exec sleep 3600')]);
  const admin = await plane().clientCert('ws-admin', ['system:masters']);
  const [cert, key, ca] = await Promise.all([readFile(admin.cert), readFile(admin.key), readFile(plane().caFile)]);
  const query = ['sh', '-c', 'echo out; echo err >&2; exit 2'].map((part) => `command=${encodeURIComponent(part)}`).join('&');
  const socket = new WebSocket(`${node.base.replace('https', 'wss')}/exec/default/socketed/main?${query}&output=1&error=1`, ['v4.channel.k8s.io'], { cert, key, ca });
  const channels = new Map<number, string>();
  socket.on('message', (data: Buffer) => channels.set(data[0]!, (channels.get(data[0]!) ?? '') + data.subarray(1).toString('utf8')));
  await new Promise((resolve, reject) => socket.on('close', resolve).on('error', reject));
  expect(socket.protocol).toBe('v4.channel.k8s.io');
  expect(channels.get(1)).toBe('out\n');
  expect(channels.get(2)).toBe('err\n');
  expect(JSON.parse(channels.get(3)!)).toMatchObject({
    status: 'Failure',
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: '2' }] },
  });
});

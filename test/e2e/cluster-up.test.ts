/**
 * The agent and the proxy as processes under a real control plane, tried as a new user would:
 * kubectl runs a pod on the node and exposes it. `dockerlet up --kubeconfig --proxy-kubeconfig`
 * prints the pod and the Service as the API server allocated it, and both the ClusterIP and the
 * node port answer with the pod's page; `dockerlet agent --kubeconfig` beside `dockerlet proxy
 * --kubeconfig`, each with its own credentials as on a kubeadm node, serve a ClusterIP Service the
 * same way. Runs in the network group: it runs a proxy.
 */
import { expect, test } from 'vitest';
import { runCli, startAgentProcess } from '../helpers/agent-process.js';
import { useControlPlane } from '../helpers/cluster.js';
import { freePort, uniqueNodeName } from '../helpers/test-node.js';
import { waitFor } from '../helpers/wait-for.js';

const plane = useControlPlane();

async function get(url: string): Promise<string> {
  const response = await fetch(url, { headers: { connection: 'close' }, signal: AbortSignal.timeout(3_000) });
  return (await response.text()).trim();
}

test('kubectl run and kubectl expose on a dockerlet node: the Service answers on its ClusterIP and node port', async () => {
  const nodeName = uniqueNodeName('up');
  const agent = await startAgentProcess({
    nodeName,
    command: 'up',
    proxy: true,
    extraArgs: [
      '--kubeconfig', await plane().nodeKubeconfig(nodeName),
      '--proxy-kubeconfig', await plane().proxyKubeconfig(),
      '--node-ip', '127.0.0.1',
      '--healthz-bind-address', `127.0.0.1:${await freePort()}`,
    ],
  });
  const web = `web-${nodeName.slice(-4)}`;
  await plane().kubectl(
    'run', web, '--image=dockerlet.local/busybox:1.35', '--image-pull-policy=Never', '--restart=Never', '--port=8080', `--labels=app=${web}`,
    `--overrides=${JSON.stringify({ spec: { nodeName, terminationGracePeriodSeconds: 1 } })}`,
    '--command', '--', 'sh', '-c', `mkdir -p /www && echo hello from ${web} > /www/index.html && exec httpd -f -p 8080 -h /www`,
  );
  await plane().kubectl('expose', 'pod', web, '--port=80', '--target-port=8080', '--type=NodePort');
  const line = await waitFor('the Service line on stdout', () =>
    new RegExp(`^service default/${web}: (10\\.96\\.\\d+\\.\\d+):80/TCP, NodePort (\\d+): try http://127\\.0\\.0\\.1:\\d+/$`, 'm').exec(agent.process.stdout) ?? undefined,
  { timeoutMs: 30_000 });
  const [, clusterIP, nodePort] = line;
  expect(await plane().kubectl('get', 'service', web, '-o', 'jsonpath={.spec.clusterIP} {.spec.ports[0].nodePort}')).toBe(`${clusterIP} ${nodePort}`);
  const answer = `hello from ${web}`;
  expect(await waitFor('the ClusterIP to answer', async () => ((await get(`http://${clusterIP}/`).catch(() => '')) === answer ? answer : undefined), { timeoutMs: 60_000 })).toBe(answer);
  expect(await get(`http://127.0.0.1:${nodePort}/`)).toBe(answer);
  expect(agent.process.stdout).toMatch(new RegExp(`^pod default/${web}: Running, Ready ip=10\\.244\\.\\d+\\.\\d+$`, 'm'));
  expect(await plane().kubectl('get', 'pods', '-o', 'wide', '--no-headers')).toMatch(new RegExp(`^${web}\\s+1/1\\s+Running\\s+0\\s+\\S+\\s+10\\.244\\.\\S+\\s+${nodeName}`, 'm'));
  await plane().kubectl('delete', 'service', web);
  await plane().kubectl('delete', 'pod', web, '--grace-period=1');
});

test('dockerlet agent and dockerlet proxy as two processes with their own credentials serve a ClusterIP Service', async () => {
  const nodeName = uniqueNodeName('kp');
  const agent = await startAgentProcess({ nodeName, proxy: true, extraArgs: ['--kubeconfig', await plane().nodeKubeconfig(nodeName), '--node-ip', '127.0.0.1'] });
  const healthz = await freePort();
  const proxy = runCli(['proxy', '--kubeconfig', await plane().proxyKubeconfig(), '--root-dir', agent.rootDir, '--healthz-bind-address', `127.0.0.1:${healthz}`]);
  const app = `two-${nodeName.slice(-4)}`;
  await plane().kubectl(
    'run', app, '--image=dockerlet.local/busybox:1.35', '--image-pull-policy=Never', '--restart=Never', '--port=8080', `--labels=app=${app}`,
    `--overrides=${JSON.stringify({ spec: { nodeName, terminationGracePeriodSeconds: 1 } })}`,
    '--command', '--', 'sh', '-c', `mkdir -p /www && echo ${app} > /www/index.html && exec httpd -f -p 8080 -h /www`,
  );
  await plane().kubectl('expose', 'pod', app, '--port=80', '--target-port=8080');
  const clusterIP = await plane().kubectl('get', 'service', app, '-o', 'jsonpath={.spec.clusterIP}');
  expect(await waitFor('the ClusterIP to answer', async () => ((await get(`http://${clusterIP}/`).catch(() => '')) === app ? app : undefined), { timeoutMs: 60_000 })).toBe(app);
  expect(await get(`http://127.0.0.1:${healthz}/proxy/namespaces/default/services/${app}/`)).toBe(app);
  proxy.child.kill('SIGTERM');
  expect((await proxy.exited).code).toBe(0);
  await plane().kubectl('delete', 'service', app);
  await plane().kubectl('delete', 'pod', app, '--grace-period=1');
});

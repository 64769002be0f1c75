/**
 * `dockerlet agent --kubeconfig` as a process under a real control plane: kubectl sees the node
 * Ready with the kubelet's columns, a pod made with kubectl run on the node, and the node's static
 * pod through its mirror.
 */
import { expect, test } from 'vitest';
import { busyboxPod } from '../helpers/agent-harness.js';
import { startAgentProcess } from '../helpers/agent-process.js';
import { useControlPlane } from '../helpers/cluster.js';
import { uniqueNodeName } from '../helpers/test-node.js';
import { waitFor } from '../helpers/wait-for.js';

const plane = useControlPlane();

test('kubectl get nodes,pods -A -o wide shows the node and both kinds of pods, as for any kubelet', async () => {
  const nodeName = uniqueNodeName('e2e');
  await startAgentProcess({
    nodeName,
    manifests: { 'static.yaml': busyboxPod('static', 'sleep 3600') },
    extraArgs: ['--kubeconfig', await plane().nodeKubeconfig(nodeName), '--node-labels', 'example.com/role=edge', '--node-ip', '127.0.0.1'],
  });
  const command = ['sh', '-c', "trap 'exit 0' TERM; sleep 3600 & wait $!"];
  await plane().kubectl(
    'run', 'hello', '--image=dockerlet.local/busybox:1.35', '--image-pull-policy=Never', '--restart=Never',
    `--overrides=${JSON.stringify({ spec: { nodeName } })}`, '--command', '--', ...command,
  );
  const wide = await waitFor('both pods Running in kubectl', async () => {
    const output = await plane().kubectl('get', 'nodes,pods', '-A', '-o', 'wide');
    return /hello\s+1\/1\s+Running/.test(output) && new RegExp(`static-${nodeName}\\s+1/1\\s+Running`).test(output) ? output : undefined;
  }, { timeoutMs: 60_000 });
  // NAME STATUS ROLES AGE VERSION INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME
  expect(wide).toMatch(new RegExp(`node/${nodeName}\\s+Ready\\s+<none>\\s+\\S+\\s+v1\\.32\\.0\\s+127\\.0\\.0\\.1\\s+<none>\\s+.+\\s+docker://\\S+`));
  // NAMESPACE NAME READY STATUS RESTARTS AGE IP NODE
  expect(wide).toMatch(new RegExp(`default\\s+pod/hello\\s+1/1\\s+Running\\s+0\\s+\\S+\\s+10\\.244\\.\\d+\\.\\d+\\s+${nodeName}`));
  expect(wide).toMatch(new RegExp(`default\\s+pod/static-${nodeName}\\s+1/1\\s+Running\\s+0\\s+\\S+\\s+10\\.244\\.\\d+\\.\\d+\\s+${nodeName}`));
  expect(await plane().kubectl('get', 'node', nodeName, '-o', 'jsonpath={.metadata.labels.example\\.com/role}')).toBe('edge');
  await plane().kubectl('delete', 'pod', 'hello', '--grace-period=1');
});

/**
 * Cluster mode, the node's side: registration, status and the Lease against a real kube-apiserver
 * (Node authorizer, NodeRestriction) with the node's own client certificate.
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { describe, expect, onTestFinished, test } from 'vitest';
import type { Node } from '../../common/api/types.js';
import type { Lease } from '../../agent/node/node-lease.js';
import { busyboxPod, startAgent } from '../helpers/agent-harness.js';
import { clusterOptions, useControlPlane } from '../helpers/cluster.js';
import { docker } from '../helpers/docker.js';
import { uniqueNodeName } from '../helpers/test-node.js';
import { waitFor } from '../helpers/wait-for.js';

const plane = useControlPlane();

async function getNode(name: string): Promise<Node | undefined> {
  const { status, body } = await plane().get(`/api/v1/nodes/${name}`);
  return status === 200 ? (body as Node) : undefined;
}

const readyStatus = (node: Node | undefined): string | undefined => node?.status?.conditions?.find((c) => c.type === 'Ready')?.status;

describe('registration', () => {
  test('the Node is created with labels, taints, addresses, capacity, nodeInfo and Ready', async () => {
    const nodeName = uniqueNodeName('c');
    await startAgent({
      nodeName,
      options: {
        nodeIPs: ['127.0.0.1'],
        port: 10250,
        cluster: await clusterOptions(plane(), nodeName, {
          nodeLabels: { 'example.com/zone': 'a' },
          registerWithTaints: [{ key: 'dedicated', value: 'edge', effect: 'NoSchedule' }],
        }),
      },
    });
    // The API server taints a new node not-ready until the node lifecycle controller sees it Ready.
    const node = await waitFor('the node to be Ready, the not-ready taint lifted', async () => {
      const found = await getNode(nodeName);
      return readyStatus(found) === 'True' && !found?.spec?.taints?.some((t) => t.key === 'node.kubernetes.io/not-ready') ? found : undefined;
    });
    expect(node.metadata?.labels).toEqual({
      'beta.kubernetes.io/arch': 'amd64',
      'beta.kubernetes.io/os': 'linux',
      'kubernetes.io/arch': 'amd64',
      'kubernetes.io/hostname': nodeName,
      'kubernetes.io/os': 'linux',
      'example.com/zone': 'a',
    });
    expect(node.metadata?.annotations).toMatchObject({ 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' });
    expect(node.spec?.taints).toEqual([{ key: 'dedicated', value: 'edge', effect: 'NoSchedule' }]);
    expect(node.status?.addresses).toEqual([
      { type: 'InternalIP', address: '127.0.0.1' },
      { type: 'Hostname', address: nodeName },
    ]);
    expect(node.status?.capacity).toMatchObject({ cpu: String(availableParallelism()), pods: '110' });
    expect(node.status?.capacity?.['memory']).toMatch(/^\d+Ki$/);
    expect(node.status?.allocatable?.['ephemeral-storage']).toMatch(/^\d+Ki$/);
    const bootID = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
    expect(node.status?.nodeInfo).toMatchObject({
      bootID,
      containerRuntimeVersion: `docker://${(await docker.version()).Version}`,
      kubeletVersion: 'v1.32.0',
      operatingSystem: 'linux',
      architecture: 'amd64',
    });
    expect(node.status?.daemonEndpoints).toEqual({ kubeletEndpoint: { Port: 10250 } });
    expect(node.status?.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['MemoryPressure', 'False', 'KubeletHasSufficientMemory'],
      ['DiskPressure', 'False', 'KubeletHasNoDiskPressure'],
      ['PIDPressure', 'False', 'KubeletHasSufficientPID'],
      ['Ready', 'True', 'KubeletReady'],
    ]);
    // The node's own story: Starting, then each condition as first reported.
    const reasons = await waitFor('the node events', async () => {
      const list = (await plane().get(`/api/v1/namespaces/default/events?fieldSelector=involvedObject.kind=Node,involvedObject.name=${nodeName}`)).body as { items: Array<{ reason: string }> };
      const found = list.items.map((event) => event.reason);
      return found.includes('NodeReady') ? found : undefined;
    });
    expect(reasons).toEqual(expect.arrayContaining(['Starting', 'NodeHasSufficientMemory', 'NodeHasNoDiskPressure', 'NodeHasSufficientPID', 'NodeReady']));
    // kubectl sees it as it sees any kubelet's node.
    expect(await plane().kubectl('get', 'node', nodeName, '--no-headers')).toMatch(new RegExp(`^${nodeName}\\s+Ready\\s+<none>\\s+\\S+\\s+v1\\.32\\.0`));
  });

  test('a Node already there is adopted: its default labels set right, other labels and its UID kept', async () => {
    const nodeName = uniqueNodeName('c');
    const existing = { apiVersion: 'v1', kind: 'Node', metadata: { name: nodeName, labels: { 'kubernetes.io/hostname': 'stale', keep: 'me' } } };
    await plane().request('POST', '/api/v1/nodes', existing);
    const uid = (await getNode(nodeName))!.metadata!.uid;
    await startAgent({ nodeName, options: { cluster: await clusterOptions(plane(), nodeName) } });
    const node = await waitFor('the adopted node to be Ready', async () => {
      const found = await getNode(nodeName);
      return readyStatus(found) === 'True' ? found : undefined;
    });
    expect(node.metadata?.uid).toBe(uid);
    expect(node.metadata?.labels).toMatchObject({ 'kubernetes.io/hostname': nodeName, 'kubernetes.io/os': 'linux', keep: 'me' });
  });
});

describe("the pod subnet from the node's Node", () => {
  test("until its Node has a spec.podCIDR the node is not Ready and only a pod on the host's network runs; then its pod network has that subnet and the waiting pod starts on it", async () => {
    const nodeName = uniqueNodeName('cidr');
    // A network of this test's own: the host's default one has the default subnet. Removed after the node's containers (hooks run last first).
    const network = `dkl-cidr-${process.pid % 10_000}`;
    const subnet = `10.253.${process.pid % 200}.0/24`;
    onTestFinished(() => docker.getNetwork(network).remove().catch(() => undefined));
    const agent = await startAgent({
      nodeName,
      manifests: { 'pod.yaml': busyboxPod('web', 'sleep 3600'), 'host.yaml': busyboxPod('host', 'sleep 3600', { spec: '  hostNetwork: true\n' }) },
      options: { nodeIPs: ['127.0.0.1'], podNetworkName: network, podBridgeName: network, cluster: await clusterOptions(plane(), nodeName) },
      podCIDRFromNode: true,
    });
    const notReady = await waitFor('the node to be registered, not Ready for its network', async () => {
      const ready = (await getNode(nodeName))?.status?.conditions?.find((c) => c.type === 'Ready');
      return ready?.status === 'False' ? ready : undefined;
    });
    expect(notReady.message).toBe("container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:dockerlet: no pod CIDR yet: waiting for the Node's spec.podCIDR");
    await agent.waitForPod('host', 'to run on the host network', (pod) => pod.status?.phase === 'Running');
    await waitFor('the pod off the host network to be held back', () => agent.log.events('NetworkNotReady').length > 0);
    expect(agent.pod('web')?.status?.phase).toBe('Pending');
    expect(await docker.getNetwork(network).inspect().catch(() => undefined)).toBeUndefined();

    // As the controller manager's range allocator would, an administrator sets it.
    await plane().kubectl('patch', 'node', nodeName, '-p', JSON.stringify({ spec: { podCIDR: subnet, podCIDRs: [subnet] } }));
    await waitFor('the node to be Ready', async () => readyStatus(await getNode(nodeName)) === 'True');
    const made = (await docker.getNetwork(network).inspect()) as { IPAM: { Config: Array<{ Subnet: string }> } };
    expect(made.IPAM.Config.map((config) => config.Subnet)).toEqual([subnet]);
    // Synced as soon as the network is there, not at its next retry.
    const web = await agent.waitForPod('web', 'to run on the new network', (pod) => pod.status?.phase === 'Running', { timeoutMs: 15_000 });
    expect(web.status?.podIP).toMatch(new RegExp(`^10\\.253\\.${process.pid % 200}\\.`));

    // Restarted, the node reads its subnet with its first status update: it is never reported not ready.
    const again = await agent.restart();
    await waitFor('the restarted node to report its status', () => again.log.events('NodeReady').length > 0);
    expect(again.log.events('NodeNotReady')).toEqual([]);
    expect(readyStatus(await getNode(nodeName))).toBe('True');
  });
});

describe('the Lease', () => {
  test('kube-node-lease/<node> is held by the node, owned by its Node, and renewed', async () => {
    const nodeName = uniqueNodeName('c');
    // A 4 s lease is renewed every second.
    await startAgent({ nodeName, options: { cluster: await clusterOptions(plane(), nodeName, { nodeLeaseDurationSeconds: 4 }) } });
    const leasePath = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${nodeName}`;
    const first = await waitFor('a lease owned by the node', async () => {
      const { status, body } = await plane().get(leasePath);
      return status === 200 && (body as Lease).metadata.ownerReferences?.length ? (body as Lease) : undefined;
    });
    const node = (await getNode(nodeName))!;
    expect(first.spec).toMatchObject({ holderIdentity: nodeName, leaseDurationSeconds: 4 });
    expect(first.metadata.ownerReferences).toEqual([expect.objectContaining({ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: node.metadata!.uid })]);
    expect(first.spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const renewed = await waitFor('the lease to be renewed', async () => {
      const lease = (await plane().get(leasePath)).body as Lease;
      return lease.spec.renewTime! > first.spec.renewTime! ? lease : undefined;
    });
    expect(Date.parse(renewed.spec.renewTime!) - Date.parse(first.spec.renewTime!)).toBeGreaterThan(500);
  });
});

describe('a stopped agent', () => {
  test('its node goes Unknown once the node lifecycle controller stops hearing from it', async () => {
    const nodeName = uniqueNodeName('c');
    const agent = await startAgent({ nodeName, options: { cluster: await clusterOptions(plane(), nodeName, { nodeLeaseDurationSeconds: 4 }) } });
    await waitFor('the node to be Ready', async () => readyStatus(await getNode(nodeName)) === 'True');
    await agent.stop();
    const node = await waitFor('the node to go Unknown', async () => {
      const found = await getNode(nodeName);
      return readyStatus(found) === 'Unknown' ? found : undefined;
    }, { timeoutMs: 60_000, intervalMs: 500 });
    expect(node.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.' });
    expect(await plane().kubectl('get', 'node', nodeName, '--no-headers')).toMatch(new RegExp(`^${nodeName}\\s+NotReady`));
  });
});

describe('authentication', () => {
  test('a kubeconfig with a bearer token works as well as client certificates', async () => {
    const nodeName = plane().tokenNodeName;
    await startAgent({ nodeName, options: { cluster: { ...(await clusterOptions(plane(), nodeName)), kubeconfig: await plane().nodeTokenKubeconfig() } } });
    await waitFor('the token node to be Ready', async () => readyStatus(await getNode(nodeName)) === 'True');
  });

  test('a kubeconfig that cannot be read stops the start with an error naming the file', async () => {
    const nodeName = uniqueNodeName('c');
    await expect(startAgent({ nodeName, options: { cluster: { ...(await clusterOptions(plane(), nodeName)), kubeconfig: '/nonexistent/kubeconfig' } } })).rejects.toThrow(/--kubeconfig \/nonexistent\/kubeconfig: .*ENOENT/);
  });
});

/** A cluster of several nodes as the cluster command lays it out: addresses, subnets, component names and command lines, and the --nodes flag. */
import { describe, expect, test } from 'vitest';
import { clusterComponents, componentKind, isComponentName, ClusterLayout } from '../../../../cli/cluster/cluster-layout.js';
import { clusterNetwork, MaxNodes } from '../../../../cli/cluster/cluster-network.js';
import { upSettings } from '../../../../cli/cluster/cluster-options.js';
import { componentSpecs, nodeObjects, type ClusterSpec } from '../../../../cli/cluster/components.js';
import { NodeHosts } from '../../../../cli/cluster/node-hosts.js';

const layout = new ClusterLayout('/var/lib/dockerlet/clusters/demo');

function spec(nodes: number): ClusterSpec {
  const network = clusterNetwork('demo', nodes);
  return {
    name: 'demo',
    layout,
    ports: { apiServer: 6443, etcdClient: 2379, etcdPeer: 2380 },
    binaries: { binDir: '/opt/bin', etcd: '/opt/bin/etcd', version: 'v1.20.2' },
    network,
    ...(nodes > 1 ? { hosts: new NodeHosts(layout, network) } : {}),
    dockerlet: ['/usr/bin/node', '/app/dist/cli/main.js'],
  };
}

/** The value after `flag` in `args`, or undefined. */
const flag = (args: readonly string[], name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);

describe('the network of a cluster', () => {
  test('one node is this host with all of the pod network, at its bridge gateway, as before there were several', () => {
    const network = clusterNetwork('demo', 1);
    expect(network.nodes).toEqual([{ name: 'demo', ordinal: 1, ip: '10.244.0.1', podCIDR: '10.244.0.0/16' }]);
    expect([network.apiAddress, network.clusterCIDR, network.nodeMaskSize, network.podNetwork]).toEqual(['10.244.0.1', '10.244.0.0/16', 16, 'dockerlet']);
  });

  test('several nodes each get a /24 of a pod network apart from the host default, and an address on the nodes\' bridge, the first being this host\'s', () => {
    const network = clusterNetwork('demo', 3);
    expect(network.nodes).toEqual([
      { name: 'demo', ordinal: 1, ip: '10.253.0.1', podCIDR: '10.245.0.0/24' },
      { name: 'demo-2', ordinal: 2, ip: '10.253.0.11', podCIDR: '10.245.1.0/24' },
      { name: 'demo-3', ordinal: 3, ip: '10.253.0.12', podCIDR: '10.245.2.0/24' },
    ]);
    expect([network.apiAddress, network.clusterCIDR, network.nodeMaskSize, network.podNetwork]).toEqual(['10.253.0.1', '10.245.0.0/16', 24, 'dockerlet-pods']);
    expect(clusterNetwork('demo', MaxNodes).nodes.at(-1)).toMatchObject({ ip: `10.253.0.${9 + MaxNodes}`, podCIDR: `10.245.${MaxNodes - 1}.0/24` });
  });

  test('the Nodes are made ahead with their subnets only when there are several', () => {
    expect(nodeObjects(clusterNetwork('demo', 1))).toEqual([]);
    expect(nodeObjects(clusterNetwork('demo', 2)).map(({ object }) => object)).toEqual([
      { apiVersion: 'v1', kind: 'Node', metadata: { name: 'demo' }, spec: { podCIDR: '10.245.0.0/24', podCIDRs: ['10.245.0.0/24'] } },
      { apiVersion: 'v1', kind: 'Node', metadata: { name: 'demo-2' }, spec: { podCIDR: '10.245.1.0/24', podCIDRs: ['10.245.1.0/24'] } },
    ]);
  });
});

describe('the components of a cluster', () => {
  test('each further node adds its engine, its agent and its local provisioner, named by its ordinal, after the first node', () => {
    expect(clusterComponents(1)).toEqual(['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'local-provisioner', 'dockerlet']);
    expect(clusterComponents(3).slice(5)).toEqual(['dockerlet', 'dockerd-2', 'dockerlet-2', 'local-provisioner-2', 'dockerd-3', 'dockerlet-3', 'local-provisioner-3']);
    expect(componentSpecs(spec(3)).map((process) => process.name)).toEqual(clusterComponents(3));
    expect(componentKind('dockerd-12')).toEqual({ kind: 'dockerd', ordinal: 12 });
    expect(componentKind('dockerlet')).toEqual({ kind: 'dockerlet', ordinal: 1 });
    expect(componentKind('local-provisioner-3')).toEqual({ kind: 'local-provisioner', ordinal: 3 });
    for (const name of ['dockerd-2', 'dockerlet-20', 'local-provisioner-2', 'etcd']) expect(isComponentName(name), name).toBe(true);
    for (const name of ['dockerd-1', 'dockerd-0', 'dockerlet-02', 'dockerd', 'etcdd', 'kube-scheduler-2']) expect(isComponentName(name), name).toBe(false);
  });

  test('with one node, the node and the controller manager are as they always were', () => {
    const [, , controllerManager, , , node] = componentSpecs(spec(1));
    expect(flag(controllerManager!.args, '--node-cidr-mask-size')).toBe('16');
    expect(flag(node!.args, '--pod-cidr')).toBe('10.244.0.0/16');
    expect(flag(node!.args, '--node-ip')).toBe('10.244.0.1');
    expect(node!.args).not.toContain('--node-routes');
  });

  test('with several, every node routes the pod network, and a further one runs with its engine inside its host', () => {
    const specs = componentSpecs(spec(2));
    const byName = new Map(specs.map((process) => [process.name, process]));
    const apiServer = byName.get('kube-apiserver')!;
    expect(flag(apiServer.args, '--advertise-address')).toBe('10.253.0.1');
    expect(flag(byName.get('kube-controller-manager')!.args, '--cluster-cidr')).toBe('10.245.0.0/16');
    const first = byName.get('dockerlet')!;
    expect([flag(first.args, '--pod-cidr'), flag(first.args, '--node-ip'), flag(first.args, '--cluster-cidr'), flag(first.args, '--pod-network')]).toEqual(['10.245.0.0/24', '10.253.0.1', '10.245.0.0/16', 'dockerlet-pods']);
    expect(first.args).toContain('--node-routes');
    expect(first.execs).toBeUndefined();

    const host = new NodeHosts(layout, clusterNetwork('demo', 2)).hosts[0]!;
    const engine = byName.get('dockerd-2')!;
    expect(engine.command).toBe('nsenter');
    expect(engine.args.slice(0, 3)).toEqual([`--mount=${host.mountNamespace}`, `--net=/run/netns/${host.netns}`, '--']);
    expect(engine.execs?.[0]).toBe('dockerd');
    expect([flag(engine.args, '--host'), flag(engine.args, '--data-root'), flag(engine.args, '--bridge')]).toEqual([`unix://${host.socket}`, '/var/lib/dockerlet/clusters/demo/nodes/2/engine', 'none']);
    expect(engine.args).toContain('--live-restore');
    const agent = byName.get('dockerlet-2')!;
    expect(agent.execs?.slice(0, 3)).toEqual(['/usr/bin/node', '/app/dist/cli/main.js', 'up']);
    expect([flag(agent.args, '--hostname-override'), flag(agent.args, '--node-ip'), flag(agent.args, '--pod-cidr'), flag(agent.args, '--container-runtime-endpoint'), flag(agent.args, '--cgroup-root')])
      .toEqual(['demo-2', '10.253.0.11', '10.245.1.0/24', `unix://${host.socket}`, host.podsCgroup]);
    expect(flag(agent.args, '--kubeconfig')).toBe('/var/lib/dockerlet/clusters/demo/kubeconfig/node-2.kubeconfig');
    expect(flag(agent.args, '--tls-cert-file')).toBe('/var/lib/dockerlet/clusters/demo/pki/kubelet-2.crt');
    expect(agent.args).toContain('--node-routes');
    // Its volumes: made from this host, where the node's host sees them at the same path.
    const provisioner = byName.get('local-provisioner-2')!;
    expect(provisioner.command).toBe('/usr/bin/node');
    expect([flag(provisioner.args, '--node-name'), flag(provisioner.args, '--volume-dir')]).toEqual(['demo-2', '/var/lib/dockerlet/clusters/demo/nodes/2/volumes']);
    expect(flag(byName.get('local-provisioner')!.args, '--node-name')).toBe('demo');
  });

  test("a further node's names fit the kernel's 15 characters and are the cluster directory's own", () => {
    const hosts = new NodeHosts(layout, clusterNetwork('demo', MaxNodes));
    const other = new NodeHosts(new ClusterLayout('/srv/other'), clusterNetwork('demo', 2));
    expect(hosts.bridge).toMatch(/^dkl[0-9a-f]{8}$/);
    for (const host of hosts.hosts) expect(host.hostVeth.length, host.hostVeth).toBeLessThanOrEqual(15);
    expect(other.bridge).not.toBe(hosts.bridge);
  });
});

describe('--nodes', () => {
  test('takes 1 to the most nodes, and is left out of the settings when not given', async () => {
    expect((await upSettings({ nodes: '3' })).nodes).toBe(3);
    expect((await upSettings({})).nodes).toBeUndefined();
    for (const bad of ['0', '2.5', 'three', String(MaxNodes + 1)]) {
      await expect(upSettings({ nodes: bad }), bad).rejects.toThrow(`--nodes: invalid value "${bad}": must be a number of nodes, 1-${MaxNodes}`);
    }
  });
});

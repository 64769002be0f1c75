import { describe, expect, test } from 'vitest';
import { DockerletError } from '../../../common/api/errors.js';
import { resolveUpOptions, type UpFlags } from '../../../cli/up-options.js';
import { memoryLogger } from '../../helpers/memory-logger.js';

const kubeconfig = '/etc/kubernetes/kubelet.conf';
const base: UpFlags = { hostnameOverride: 'node-1', proxyMode: 'userspace' };

describe('resolveUpOptions', () => {
  test("the proxy's cluster CIDR is --cluster-cidr, or by default the node's own pod subnet", async () => {
    const { logger } = memoryLogger();
    expect((await resolveUpOptions({ ...base, podCidr: '10.88.0.0/16', serveClusterDns: false }, logger)).options.proxy.options.podCIDR.text).toBe('10.88.0.0/16');
    const given = await resolveUpOptions({ ...base, podCidr: '10.88.1.0/24', clusterCidr: '10.88.0.0/16', serveClusterDns: false }, logger);
    expect([given.options.agent.podCIDR?.text, given.options.proxy.options.podCIDR.text]).toEqual(['10.88.1.0/24', '10.88.0.0/16']);
  });

  test('a node that takes its subnet from its Node needs --cluster-cidr, serves no cluster DNS, and gives its pods --cluster-dns', async () => {
    const { logger, lines } = memoryLogger();
    const flags: UpFlags = { ...base, kubeconfig, podCidrFromNode: true };
    await expect(resolveUpOptions(flags, logger)).rejects.toThrow("--pod-cidr-from-node: the proxy needs the cluster's pod range, which no flag gives yet: add --cluster-cidr, as the controller manager's");
    const { options } = await resolveUpOptions({ ...flags, clusterCidr: '10.244.0.0/16', clusterDns: '10.96.0.10' }, logger);
    expect(options.proxy.options.clusterDns).toBeUndefined();
    expect(options.agent.clusterDNS).toEqual(['10.96.0.10']);
    expect(lines.some((line) => line.msg.startsWith('not serving the cluster DNS'))).toBe(true);
  });

  test('asked to serve the cluster DNS without knowing its subnet, it says what to do instead', async () => {
    const { logger } = memoryLogger();
    const err = await resolveUpOptions({ ...base, kubeconfig, podCidrFromNode: true, clusterCidr: '10.244.0.0/16', serveClusterDns: true }, logger).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DockerletError);
    expect((err as Error).message).toContain("--serve-cluster-dns: invalid value true: the cluster DNS answers on the pod bridge's gateway, unknown until the Node has its subnet");
  });
});

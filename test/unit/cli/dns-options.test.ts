import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseIpv4Cidr } from '../../../common/util/ipv4.js';
import { resolveClusterDns, type ClusterDnsInputs } from '../../../cli/dns-options.js';
import { resolveAgentOptions } from '../../../cli/options.js';
import { setting } from '../../../cli/settings.js';
import { memoryLogger } from '../../helpers/memory-logger.js';

let dir = '';
let resolvConf = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dns-options-'));
  resolvConf = join(dir, 'resolv.conf');
  await writeFile(resolvConf, 'nameserver 192.0.2.53\nnameserver 10.244.0.1\nnameserver 10.96.0.10\n');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function inputs(overrides: { serve?: string | boolean; clusterDNS?: string[]; byDefault?: ClusterDnsInputs['serveByDefault'] } = {}): ClusterDnsInputs {
  return {
    serve: setting<string | boolean | undefined>({ flag: '--serve-cluster-dns', flagValue: overrides.serve }, undefined),
    serveByDefault: overrides.byDefault ?? 'always',
    clusterDNS: setting<readonly string[]>({ flag: '--cluster-dns', flagValue: overrides.clusterDNS }, []),
    podCIDR: parseIpv4Cidr('10.244.0.0/16')!,
    serviceCIDR: parseIpv4Cidr('10.96.0.0/16')!,
    domain: 'cluster.local',
    resolvConf,
  };
}

const decide = (overrides: Parameters<typeof inputs>[0]) => resolveClusterDns(inputs(overrides), memoryLogger().logger);

describe('resolveClusterDns', () => {
  test('served by default on the gateway, port 53, to the pods; pods get the gateway; the host nameservers are its upstreams, never itself', async () => {
    expect(await decide({})).toEqual({
      server: {
        listen: { host: '10.244.0.1', port: 53 },
        domain: 'cluster.local',
        upstreams: [{ host: '192.0.2.53', port: 53 }, { host: '10.96.0.10', port: 53 }],
        clients: [parseIpv4Cidr('10.244.0.0/16')],
      },
      clusterDNS: ['10.244.0.1'],
    });
    expect((await decide({ clusterDNS: ['10.244.0.1'] })).clusterDNS).toEqual(['10.244.0.1']);
  });

  test('off: no server, and pods get clusterDNS as it was set', async () => {
    expect(await decide({ serve: 'false', clusterDNS: ['10.96.0.10'] })).toEqual({ clusterDNS: ['10.96.0.10'] });
    expect(await decide({ serve: false })).toEqual({ clusterDNS: [] });
    expect(await decide({ byDefault: 'never' })).toEqual({ clusterDNS: [] });
  });

  test("in cluster mode, a clusterDNS elsewhere is the cluster's own DNS, and none is served; without one, it is", async () => {
    expect(await decide({ byDefault: 'unless-cluster-dns-elsewhere', clusterDNS: ['10.96.0.10'] })).toEqual({ clusterDNS: ['10.96.0.10'] });
    expect((await decide({ byDefault: 'unless-cluster-dns-elsewhere' })).server?.listen).toEqual({ host: '10.244.0.1', port: 53 });
  });

  test('a clusterDNS in the service CIDR: the server on the gateway, and pods told the ClusterIP the proxy routes to it', async () => {
    expect(await decide({ clusterDNS: ['10.96.0.10'] })).toEqual({
      server: { listen: { host: '10.244.0.1', port: 53 }, serviceIP: '10.96.0.10', domain: 'cluster.local', upstreams: [{ host: '192.0.2.53', port: 53 }], clients: [parseIpv4Cidr('10.244.0.0/16')] },
      clusterDNS: ['10.96.0.10'],
    });
    expect((await decide({ serve: 'true', byDefault: 'unless-cluster-dns-elsewhere', clusterDNS: ['10.96.0.10'] })).server?.serviceIP).toBe('10.96.0.10');
  });

  test('serving while clusterDNS names an address outside the service CIDR, or several, is refused, naming the flag', async () => {
    await expect(decide({ serve: 'true', clusterDNS: ['192.0.2.10'] })).rejects.toThrow(
      /^--cluster-dns: invalid value \["192\.0\.2\.10"\]: dockerlet's cluster DNS answers on the pod bridge's gateway 10\.244\.0\.1, or at one ClusterIP of 10\.96\.0\.0\/16: leave it unset, set it to 10\.244\.0\.1 or to such an address, or turn the server off/,
    );
    await expect(decide({ clusterDNS: ['10.96.0.10', '10.96.0.11'] })).rejects.toThrow(/^--cluster-dns: invalid value/);
    await expect(decide({ clusterDNS: ['10.96.0.10', '10.244.0.1'] })).rejects.toThrow(/^--cluster-dns: invalid value/);
    await expect(decide({ clusterDNS: ['10.96.0.0'] })).rejects.toThrow(/^--cluster-dns: invalid value \["10\.96\.0\.0"\]/);
    await expect(decide({ serve: 'maybe' })).rejects.toThrow(/^--serve-cluster-dns: invalid value "maybe": must be true or false/);
  });

  test('from a KubeletConfiguration: serveClusterDNS and clusterDNS, errors naming the file and field', async () => {
    const config = join(dir, 'kubelet.yaml');
    await writeFile(config, 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nserveClusterDNS: true\nclusterDNS: [192.0.2.10]\n');
    const resolved = await resolveAgentOptions({ config, hostnameOverride: 'n1' });
    expect(resolved.clusterDnsSettings.serve.value).toBe(true);
    const dns = resolveClusterDns({ ...inputs(), ...resolved.clusterDnsSettings }, memoryLogger().logger);
    await expect(dns).rejects.toThrow(new RegExp(`^--config ${config}: clusterDNS: invalid value \\["192\\.0\\.2\\.10"\\]`));
  });
});

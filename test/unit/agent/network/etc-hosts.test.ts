import { describe, expect, test } from 'vitest';
import { etcHostsContent } from '../../../../agent/network/etc-hosts.js';

const header = `# Kubernetes-managed hosts file.
127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
fe00::0\tip6-mcastprefix
fe00::1\tip6-allnodes
fe00::2\tip6-allrouters
`;

describe('etcHostsContent (managedHostsFileContent)', () => {
  test('the standard entries, then the pod IP with its hostname', () => {
    expect(etcHostsContent({ podIP: '10.244.0.5', hostname: 'web', namespace: 'default', clusterDomain: 'cluster.local', hostAliases: [] })).toBe(
      `${header}10.244.0.5\tweb\n`,
    );
  });

  test('with a subdomain, the FQDN <hostname>.<subdomain>.<namespace>.svc.<domain> comes first', () => {
    expect(
      etcHostsContent({ podIP: '10.244.0.5', hostname: 'web-0', subdomain: 'web', namespace: 'shop', clusterDomain: 'cluster.local', hostAliases: [] }),
    ).toBe(`${header}10.244.0.5\tweb-0.web.shop.svc.cluster.local\tweb-0\n`);
  });

  test('host aliases follow under their own comment, one line per IP', () => {
    const content = etcHostsContent({
      podIP: '10.244.0.5',
      hostname: 'web',
      namespace: 'default',
      clusterDomain: 'cluster.local',
      hostAliases: [
        { ip: '127.0.0.1', hostnames: ['foo.local', 'bar.local'] },
        { ip: '10.1.2.3', hostnames: ['foo.remote'] },
      ],
    });
    expect(content).toBe(`${header}10.244.0.5\tweb\n\n# Entries added by HostAliases.\n127.0.0.1\tfoo.local\tbar.local\n10.1.2.3\tfoo.remote\n`);
  });
});

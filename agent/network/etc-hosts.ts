/** The kubelet-managed /etc/hosts of a pod (kubelet_pods.go, managedHostsFileContent). */
import type { HostAlias } from '../../common/api/types.js';

export interface EtcHostsInput {
  podIP: string;
  hostname: string;
  /** spec.subdomain: adds the pod's FQDN <hostname>.<subdomain>.<namespace>.svc.<clusterDomain>. */
  subdomain?: string;
  namespace: string;
  clusterDomain: string;
  hostAliases: readonly HostAlias[];
}

const Header = `# Kubernetes-managed hosts file.
127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
fe00::0\tip6-mcastprefix
fe00::1\tip6-allnodes
fe00::2\tip6-allrouters
`;

export function etcHostsContent(input: EtcHostsInput): string {
  let content = Header;
  content += input.subdomain
    ? `${input.podIP}\t${input.hostname}.${input.subdomain}.${input.namespace}.svc.${input.clusterDomain}\t${input.hostname}\n`
    : `${input.podIP}\t${input.hostname}\n`;
  if (input.hostAliases.length > 0) {
    content += '\n# Entries added by HostAliases.\n';
    for (const alias of input.hostAliases) content += `${alias.ip}\t${(alias.hostnames ?? []).join('\t')}\n`;
  }
  return content;
}

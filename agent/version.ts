/** The Kubernetes release whose kubelet behaviour dockerlet matches, as the kubelet reports it. */
export const KubeletVersion = 'v1.32.0';

/** "1.32": major.minor, as probes put it in their User-Agent (kube-probe/1.32). */
export const KubernetesMinorVersion = KubeletVersion.replace(/^v(\d+\.\d+).*$/, '$1');

/** The User-Agent of the agent's API requests, in client-go's shape: dockerlet/v1.32.0 (linux/amd64) kubernetes/dockerlet. */
export const userAgent = (os: string, arch: string): string => `dockerlet/${KubeletVersion} (${os}/${arch}) kubernetes/dockerlet`;

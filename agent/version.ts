/** The Kubernetes release whose kubelet behaviour dockerlet matches, as the kubelet reports it. */
export const KubeletVersion = 'v1.32.0';

/** "1.32": major.minor, as probes put it in their User-Agent (kube-probe/1.32). */
export const KubernetesMinorVersion = KubeletVersion.replace(/^v(\d+\.\d+).*$/, '$1');

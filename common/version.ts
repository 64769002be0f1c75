import { arch } from 'node:os';

/** The Kubernetes release whose kubelet behaviour dockerlet matches, as the kubelet reports it. */
export const KubeletVersion = 'v1.32.0';

/** dockerlet's own version, as package.json says (a unit test holds the two together). */
export const DockerletVersion = '0.1.0';

/** "1.32": major.minor, as probes put it in their User-Agent (kube-probe/1.32). */
export const KubernetesMinorVersion = KubeletVersion.replace(/^v(\d+\.\d+).*$/, '$1');

/** Node's process.arch -> GOARCH, which the kubernetes.io/arch label, nodeInfo and User-Agents carry. */
const GoArch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
export const goArch: string = GoArch[arch()] ?? arch();

/** The User-Agent of API requests, in client-go's shape: dockerlet/v1.32.0 (linux/amd64) kubernetes/dockerlet. */
export const userAgent = (program: 'dockerlet' | 'dockerlet-proxy' | 'dockerlet-local-provisioner'): string => `${program}/${KubeletVersion} (linux/${goArch}) kubernetes/dockerlet`;

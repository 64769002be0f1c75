/**
 * Which sysctls a pod may set (pkg/kubelet/sysctl: the allowlist admit handler, and
 * component-helpers' NamespacedBy): the safe ones, always, plus the node's
 * allowedUnsafeSysctls (names or prefixes ending in *). Only sysctls the kernel namespaces per
 * pod can be allowed at all; a network one is refused to a hostNetwork pod, an IPC one to a
 * hostIPC pod.
 */

/** The kubelet's safe sysctls: namespaced, and isolated from other pods (all of them exist on the kernels Docker runs on). */
export const SafeSysctls: readonly string[] = [
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
];

export type SysctlNamespace = 'ipc' | 'net';

/** NamespacedBy: the namespace a sysctl (or a prefix of sysctls) belongs to; undefined when it is not namespaced. */
export function namespacedBy(name: string): SysctlNamespace | undefined {
  if (name === 'kernel.sem' || name.startsWith('kernel.shm') || name.startsWith('kernel.msg') || name.startsWith('fs.mqueue.')) return 'ipc';
  if (name.startsWith('net.')) return 'net';
  return undefined;
}

/** ConvertSysctlVariableToDotsSeparator: "net/ipv4/conf/eth0.100/forwarding" -> "net.ipv4.conf.eth0/100.forwarding". */
export function dotSeparated(name: string): string {
  const separator = /[./]/.exec(name)?.[0];
  if (separator !== '/') return name;
  return [...name].map((char) => (char === '/' ? '.' : char === '.' ? '/' : char)).join('');
}

/** sysctl names and patterns as policy validation takes them: dot- or slash-separated segments, an optional trailing *. */
const SysctlPattern = /^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[./])*(\*|[a-z0-9]([-_a-z0-9]*[a-z0-9])?\*?)$/;
const SysctlMaxLength = 253;

export class SysctlAllowlist {
  readonly #names = new Map<string, SysctlNamespace>();
  readonly #prefixes = new Map<string, SysctlNamespace>();

  /** The safe sysctls and `unsafe`; throws, naming the first, when a pattern is malformed or not namespaced. */
  constructor(unsafe: readonly string[]) {
    for (const pattern of [...SafeSysctls, ...unsafe]) {
      if (pattern.length > SysctlMaxLength || !SysctlPattern.test(pattern)) {
        throw new Error(`sysctl ${JSON.stringify(pattern)} must have at most ${SysctlMaxLength} characters and be a sysctl name, or a prefix ending in *`);
      }
      const name = dotSeparated(pattern);
      const prefix = name.endsWith('*') ? name.slice(0, -1) : undefined;
      const namespace = namespacedBy(prefix ?? name);
      if (!namespace) throw new Error(`sysctl ${JSON.stringify(pattern)} is not known to be namespaced: it cannot be set for one pod`);
      (prefix === undefined ? this.#names : this.#prefixes).set(prefix ?? name, namespace);
    }
  }

  /** Why `sysctl` may not be set for a pod with these host namespaces; undefined when it may. */
  refusal(sysctl: string, hostNetwork: boolean, hostIPC: boolean): string | undefined {
    const name = dotSeparated(sysctl);
    const namespace = this.#names.get(name) ?? [...this.#prefixes].find(([prefix]) => name.startsWith(prefix))?.[1];
    if (namespace === undefined) return `${JSON.stringify(name)} not allowlisted`;
    if ((namespace === 'net' && hostNetwork) || (namespace === 'ipc' && hostIPC)) return `${JSON.stringify(name)} not allowed with host ${namespace} enabled`;
    return undefined;
  }
}

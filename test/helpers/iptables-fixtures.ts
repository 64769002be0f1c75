/** Small builders for the iptables datapath tests. */
import type { EndpointInfo, ProxyState, ServicePortInfo } from '../../proxy/datapath/proxier.js';

/** default/web:http, TCP 10.96.0.10:80, unless `extra` says otherwise. */
export function servicePort(extra: Partial<ServicePortInfo> = {}): ServicePortInfo {
  const namespace = extra.namespace ?? 'default';
  const name = extra.name ?? 'web';
  const portName = extra.portName ?? 'http';
  return {
    id: `${namespace}/${name}:${portName}`,
    namespace,
    name,
    portName,
    protocol: 'TCP',
    clusterIP: '10.96.0.10',
    port: 80,
    ...extra,
  };
}

/** "10.244.0.2:8080" -> an endpoint; "10.244.0.2:8080 local" -> one on this node. */
export function ep(text: string): EndpointInfo {
  const [address, where] = text.split(' ');
  const [ip, port] = address!.split(':');
  return { ip: ip!, port: Number(port), ...(where === 'local' ? { isLocal: true } : {}) };
}

/** A state from [service port, its endpoints as "ip:port" or "ip:port local"] pairs. */
export function proxyState(...entries: Array<[ServicePortInfo, string[]]>): ProxyState {
  return {
    servicePorts: entries.map(([sp]) => sp),
    endpoints: new Map(entries.map(([sp, eps]) => [sp.id, eps.map(ep)])),
  };
}

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

/** "10.244.0.2:8080" -> an endpoint. */
export function ep(text: string): EndpointInfo {
  const [ip, port] = text.split(':');
  return { ip: ip!, port: Number(port) };
}

/** A state from [service port, its endpoints as "ip:port"] pairs. */
export function proxyState(...entries: Array<[ServicePortInfo, string[]]>): ProxyState {
  return {
    servicePorts: entries.map(([sp]) => sp),
    endpoints: new Map(entries.map(([sp, eps]) => [sp.id, eps.map(ep)])),
  };
}

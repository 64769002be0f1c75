/**
 * Where the proxy's Services and endpoints come from, as one thing its loop follows. Two kinds:
 * the manifest sources with the agent's pods (a standalone node: manifest-config.ts) and the API
 * server's Services with its EndpointSlices or Endpoints (a cluster node: api-config.ts). The
 * loop asks for the state only once the config is synced: a proxy that has not yet heard from
 * its sources must not sync an empty state over the rules a previous process left. The cluster
 * DNS reads the same Services, and the endpoint addresses a headless Service publishes.
 */
import type { Service } from '../../common/api/types.js';
import type { ProxyState } from '../datapath/proxier.js';

/** A ready endpoint of a Service as DNS names it: its IP and, when it has one, its hostname. */
export interface EndpointAddress {
  ip: string;
  hostname?: string;
}

/** The IPv4 addresses of a Service's ready endpoints (every one with publishNotReadyAddresses), each once. */
export type AddressLookup = (service: Service) => readonly EndpointAddress[];

export interface ProxyConfig {
  /** The Services as they are served: ClusterIPs and node ports known. */
  services(): readonly Service[];
  /** The addresses DNS publishes for a headless Service: its ready endpoints, whatever their ports. */
  endpointAddresses(service: Service): readonly EndpointAddress[];
  /** What the datapath should carry now. */
  state(): ProxyState;
  /** Whether the Services and endpoints are known (manifests: once a source's were resolved; the API: once both lists came). */
  synced(): boolean;
  /** Called after any change of services() or state(), and once synced. */
  onChange(listener: () => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * What a datapath is given and must do: the whole desired state of every service port and its
 * ready endpoints, each time anything changes and periodically. A datapath knows nothing of
 * where Services and endpoints come from (manifests and the agent's pods today, the API server's
 * Services and EndpointSlices later): it only turns a ProxyState into packets going where they
 * should. Two implement it: the kernel one (iptables, in the spirit of kube-proxy's) and the
 * userspace one (Node.js forwarding, for hosts where iptables is not usable).
 */

export type ServiceProtocol = 'TCP' | 'UDP';

/** One port of one Service: kube-proxy's ServicePortName and what it needs to know about it. */
export interface ServicePortInfo {
  /** "<namespace>/<name>:<port name>" (the port name may be empty); unique and stable. */
  id: string;
  namespace: string;
  name: string;
  portName: string;
  protocol: ServiceProtocol;
  /** The Service's ClusterIP, inside the service CIDR. */
  clusterIP: string;
  port: number;
  /** Set for NodePort and LoadBalancer services: served on every address of the host. */
  nodePort?: number;
  /** sessionAffinity ClientIP: a client sticks to one endpoint for this long after its last packet. */
  affinityTimeoutSeconds?: number;
  /** internalTrafficPolicy Local: the ClusterIP goes to this node's endpoints only, and nowhere when it has none. */
  internalPolicyLocal?: boolean;
  /**
   * externalTrafficPolicy Local (a NodePort's): traffic from outside the node goes to this node's
   * endpoints only, keeping its source address, and nowhere when it has none; traffic from the
   * node itself and from pods is served as for Cluster.
   */
  externalPolicyLocal?: boolean;
}

/** A ready endpoint of a service port: a pod IP and the pod's port (targetPort resolved for that pod). */
export interface EndpointInfo {
  ip: string;
  port: number;
  /** Its pod runs on this node (kube-proxy's IsLocal): what the Local traffic policies keep. */
  isLocal?: boolean;
}

/** The endpoints a traffic policy keeps: this node's for Local, all for Cluster. */
export function policyEndpoints(endpoints: readonly EndpointInfo[], local: boolean | undefined): readonly EndpointInfo[] {
  return local ? endpoints.filter((endpoint) => endpoint.isLocal) : endpoints;
}

export interface ProxyState {
  servicePorts: readonly ServicePortInfo[];
  /** Ready endpoints per ServicePortInfo.id. None (absent or empty): connections are refused at once. */
  endpoints: ReadonlyMap<string, readonly EndpointInfo[]>;
  /** Endpoints left out because they are loopback or link-local ("<service port id> <ip>:<port>"), for the log. */
  unproxyable?: readonly string[];
}

export type ProxyMode = 'iptables' | 'userspace';

export interface Proxier {
  readonly mode: ProxyMode;
  /** Makes the datapath match `state` exactly: the whole state every time, idempotent. */
  sync(state: ProxyState): Promise<void>;
  /**
   * Removes everything this datapath made (chains, rules, addresses, listeners, sysctls it
   * changed), including what an earlier process left. Idempotent.
   */
  cleanup(): Promise<void>;
  /** Stops serving without removing anything (a restarted proxy takes over what is there). */
  stop(): Promise<void>;
}

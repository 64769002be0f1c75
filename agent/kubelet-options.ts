/** What a kubelet is built with: the flags and KubeletConfiguration, resolved (cli/options.ts). */
import type { Ipv4Cidr } from '../common/util/ipv4.js';
import type { ManifestSourceOptions } from './config/sources/manifest-sources.js';
import type { Threshold } from './eviction/thresholds.js';
import type { ImageGCPolicy } from './images/image-gc-manager.js';
import type { ClusterOptions } from './node/cluster-node.js';
import type { SecureServingOptions } from './server/serving-options.js';

export interface KubeletOptions extends ManifestSourceOptions {
  rootDir: string;
  syncFrequencyMs: number;
  address: string;
  /** 0 disables the server. */
  port: number;
  /** 0 disables the read-only server. */
  readOnlyPort: number;
  /** TLS, authentication and authorization of the server on `port`. */
  serving: SecureServingOptions;
  /** unix:///path/to/docker.sock */
  containerRuntimeEndpoint: string;
  runtimeRequestTimeoutMs: number;
  /** A pull that makes no progress for this long is cancelled (dockershim's --image-pull-progress-deadline). */
  imagePullProgressDeadlineMs: number;
  podInfraContainerImage: string;
  /** The pod bridge's subnet; unset (cluster mode only), the Node's spec.podCIDR, waited for at start. */
  podCIDR?: Ipv4Cidr;
  podNetworkName: string;
  podBridgeName: string;
  nodeIPs: readonly string[];
  clusterDNS: readonly string[];
  clusterDomain: string;
  resolvConf: string;
  crashLoopBackOffMaxMs: number;
  /** Pods this node admits (and its capacity in pods). */
  maxPods: number;
  /** Unsafe sysctls pods may set besides the safe ones: names, or prefixes ending in *. */
  allowedUnsafeSysctls: readonly string[];
  /** hostPath volumes must lie under one of these; empty allows every path (as the kubelet). */
  allowedHostPathPrefixes: readonly string[];
  /** How often the eviction manager checks local storage limits and node pressure (the kubelet's evictionMonitoringPeriod). */
  evictionMonitoringPeriodMs: number;
  /** Node-pressure eviction: the thresholds (evictionHard, evictionSoft with their grace periods and minimum reclaims), evictionPressureTransitionPeriod and evictionMaxPodGracePeriod. */
  eviction: { thresholds: readonly Threshold[]; pressureTransitionPeriodMs: number; maxPodGracePeriodSeconds: number };
  /** Image garbage collection (KubeletConfiguration's imageGC* and imageM*GCAge), and how often it runs (the kubelet's ImageGCPeriod). */
  imageGC: ImageGCPolicy & { periodMs: number };
  containerLogMaxSize: string;
  containerLogMaxFiles: number;
  plegRelistPeriodMs: number;
  /**
   * The cgroup every pod goes under, with its QoS classes' below it, as the kubelet's kubepods:
   * `dockerlet`; a test node has one of its own, so that nodes side by side on a host never
   * share QoS cgroups.
   */
  podsCgroup: string;
  /** Cluster mode (--kubeconfig): the API server this node joins; unset, the agent runs standalone. */
  cluster?: ClusterOptions;
}

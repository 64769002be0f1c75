/**
 * The library's public types: what a test sees of a node (TestNode) and of its calls. Kept apart
 * from the implementation, so that the package's declarations name nothing of the agent's or the
 * proxy's insides.
 */
import type { Logger } from 'pino';
import type { Pod, Service } from '../common/api/types.js';

/** A Kubernetes object as a test writes it. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [field: string]: unknown };
  [field: string]: unknown;
}

/**
 * What apply() and delete() take: objects, YAML (or JSON) text, or the path of a manifest file
 * or of a directory of them (.yaml, .yml and .json, in name order). A string is YAML text when it
 * has a line break, else a path.
 */
export type ManifestInput = string | KubeObject | readonly KubeObject[];

export interface StartNodeOptions {
  /** The node's name, a DNS label (default: dockerlet- and 8 random hex digits). Its static pods are named <pod>-<node>. */
  name?: string;
  /** The resolv.conf whose nameservers answer names outside the cluster, for the cluster DNS and dnsPolicy Default pods (default: /etc/resolv.conf). */
  resolvConf?: string;
  /** The cluster domain (default: cluster.local). */
  clusterDomain?: string;
  /** Where the node's session lives, and where dead sessions are looked for (default: /var/lib/dockerlet/sessions). */
  sessionsDir?: string;
  /** The Docker engine (default: unix:///var/run/docker.sock). */
  containerRuntimeEndpoint?: string;
  /** Where the node logs (default: warnings and errors, as JSON lines on stderr). */
  logger?: Logger;
  /**
   * Join the cluster of this kubeconfig (that of `dockerlet cluster up`, or any whose API server
   * this host reaches): apply() creates the objects there, each Pod bound to this node, and
   * stop() deletes them and the Node. The node registers with the NoSchedule taint
   * dockerlet.io/test-node, so the cluster's other pods stay off it.
   */
  kubeconfig?: string;
  /** A joined node: the cluster's service CIDR, whose ClusterIPs its proxy serves (default: 10.96.0.0/16, as `dockerlet cluster up`'s). */
  serviceCIDR?: string;
}

export interface PodWaitOptions {
  /** Milliseconds, or a duration such as "90s" or "5m" (default: 2m). */
  timeout?: number | string;
  /** The namespace of the pods named (default: default). */
  namespace?: string;
}

export interface ContainerOptions {
  /** The container (default: the pod's only one, or its first). */
  container?: string;
  namespace?: string;
}

export interface ServiceUrlOptions {
  /** The service port, by name or number (default: the Service's first). */
  port?: string | number;
  namespace?: string;
  /** The URL's scheme (default: http). */
  scheme?: string;
  /** The node port on 127.0.0.1 rather than the ClusterIP. */
  nodePort?: boolean;
}

/** What apply() and delete() acted on, as the node names it: pods by their static pod names. */
export interface AppliedObject {
  kind: string;
  namespace: string;
  name: string;
}

export interface LogOptions {
  /** The instance before the current one, as `kubectl logs --previous`. */
  previous?: boolean;
  /** Only the last lines. */
  tailLines?: number;
  timestamps?: boolean;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** A running node: the agent and the service proxy of a test, with everything they made removed by stop(). */
export interface TestNode {
  /** The node's name; its static pods are named <pod>-<node>. */
  readonly name: string;
  /** The pods' subnet, the Services' ClusterIP range and the node ports this node uses. */
  readonly addresses: { podCIDR: string; serviceCIDR: string; nodePorts: { min: number; max: number } };
  /**
   * Applies Pods, ConfigMaps, Secrets, Services and the storage kinds: objects, YAML text, files
   * or directories (see ManifestInput). Resolves once the agent has them; pods then start on
   * their own (waitForPods() waits for them). Re-applying an object replaces it.
   */
  apply(...inputs: ManifestInput[]): Promise<AppliedObject[]>;
  /** Deletes what the inputs name (the same inputs apply() takes); resolves once their pods' containers have stopped. */
  delete(...inputs: ManifestInput[]): Promise<AppliedObject[]>;
  /** The node's pods with their status, as the kubelet's /pods serves them. */
  pods(): Pod[];
  /** A pod by the name in its manifest (or its static pod name, <name>-<node>). */
  pod(name: string, namespace?: string): Pod | undefined;
  /** The node's Services as its proxy serves them: ClusterIPs and node ports given. */
  services(): Service[];
  /** Calls `listener` whenever a pod comes, goes or changes status; returns the unsubscribe. */
  onPodsChanged(listener: () => void): () => void;
  /**
   * Waits until every pod of the node (or the ones named) is Ready, or Succeeded for a pod that
   * runs to completion (restartPolicy Never or OnFailure). Rejects at once when one fails, or
   * at the timeout, with a PodWaitError saying for each pod what keeps it, with its containers'
   * reasons and last log lines.
   */
  waitForPods(names?: readonly string[], options?: PodWaitOptions): Promise<Pod[]>;
  /** waitForPods() for one pod; resolves with it. */
  waitForPod(name: string, options?: PodWaitOptions): Promise<Pod>;
  /** What keeps each of `pods` from being ready or complete, as a failed wait tells it: their troubled containers and last log lines. */
  troubleReport(pods: readonly Pod[]): Promise<string>;
  /** The container's log, as `kubectl logs` prints it. */
  logs(pod: string, options?: ContainerOptions & LogOptions): Promise<string>;
  /** Runs `command` in a running container; resolves with its output and exit code (a non-zero one is not an error). */
  exec(pod: string, command: readonly string[], options?: ContainerOptions & { stdin?: string }): Promise<ExecResult>;
  /**
   * A URL of a Service of the node that this process can open: its ClusterIP and port (the
   * proxy puts the ClusterIP on lo), or with `nodePort` 127.0.0.1 and the node port. Resolves
   * once the proxy serves it.
   */
  serviceUrl(name: string, options?: ServiceUrlOptions): Promise<string>;
  /** Stops the node and removes everything it made. Idempotent; later calls on the node are refused. */
  stop(): Promise<void>;
}

/**
 * This node's pod subnet from its Node, as the kubelet takes spec.podCIDR in cluster mode: the
 * controller manager (--allocate-node-cidrs) or an administrator sets it once the Node is
 * registered, and it never changes after. Read by polling the Node: this runs only until the
 * subnet is there, while the agent starts.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../../common/api/errors.js';
import type { Node } from '../../common/api/types.js';
import { isApiNotFound, type KubeApi } from '../../common/kube-api/kube-client.js';
import { delay, systemClock, type Clock } from '../../common/util/clock.js';
import type { Ipv4Cidr } from '../../common/util/ipv4.js';
import { nodePodSubnet } from '../network/node-routes.js';

const PollMs = 1_000;
/** How often a node still waiting says so, with what to check. */
const ReminderMs = 30_000;

export interface NodePodCidrOptions {
  client: KubeApi;
  nodeName: string;
  signal: AbortSignal;
  logger: Logger;
  clock?: Clock;
  pollMs?: number;
}

/** The Node's first IPv4 pod subnet once it has one; undefined when `signal` aborts first. */
export async function waitForNodePodCIDR(options: NodePodCidrOptions): Promise<Ipv4Cidr | undefined> {
  const { client, nodeName, signal, logger } = options;
  const clock = options.clock ?? systemClock;
  const path = `/api/v1/nodes/${encodeURIComponent(nodeName)}`;
  const since = clock.now();
  let reminded = since;
  let lastError: string | undefined;
  let warnedNoIpv4 = false;
  logger.info({ node: nodeName }, "waiting for this node's pod subnet: pods that are not on the host's network wait for it");
  while (!signal.aborted) {
    try {
      const node = await client.get<Node>(path, { signal });
      const subnet = nodePodSubnet(node);
      if (subnet) {
        logger.info({ node: nodeName, podCIDR: subnet.text }, "took this node's pod subnet from its Node");
        return subnet;
      }
      lastError = undefined;
      if (!warnedNoIpv4 && (node.spec?.podCIDR || node.spec?.podCIDRs?.length)) {
        warnedNoIpv4 = true;
        logger.warn({ node: nodeName, podCIDRs: node.spec.podCIDRs ?? [node.spec.podCIDR] }, 'the Node has no IPv4 pod subnet: dockerlet pods need one');
      }
    } catch (err) {
      // Not registered yet: the node's registration is under way beside this.
      lastError = isApiNotFound(err) ? 'the Node is not registered yet' : errorMessage(err);
      if (!isApiNotFound(err) && !signal.aborted) logger.debug({ err: lastError }, 'reading the Node for its pod subnet failed; will retry');
    }
    if (clock.now() - reminded >= ReminderMs) {
      reminded = clock.now();
      logger.warn(
        { node: nodeName, waitedSeconds: Math.round((reminded - since) / 1000), ...(lastError ? { lastError } : {}) },
        "the Node still has no pod subnet (spec.podCIDR): run the controller manager with --allocate-node-cidrs and a --cluster-cidr, set the Node's spec.podCIDR, or give this node --pod-cidr instead of --pod-cidr-from-node",
      );
    }
    await delay(options.pollMs ?? PollMs, signal, true);
  }
  return undefined;
}

/** `dockerlet cluster up|down|status|logs`: a real Kubernetes cluster on this host, whose node is dockerlet. */
import type { Command } from 'commander';
import { errorMessage, isDockerletError } from '../../common/api/errors.js';
import { ClustersRoot, DefaultClusterName } from './cluster-layout.js';
import { clusterDown } from './cluster-down.js';
import { clusterLoadImage } from './cluster-load-image.js';
import { clusterLogs, ComponentsHelp, type LogsFlags } from './cluster-logs.js';
import { MaxNodes } from './cluster-network.js';
import { clusterTarget, DefaultApiServerPort, upSettings, type ClusterFlags, type UpFlags } from './cluster-options.js';
import { clusterStatus } from './cluster-status.js';
import { clusterUp, type ClusterOutput } from './cluster-up.js';

const out: ClusterOutput = { say: (line) => console.log(line) };

/** Runs a cluster command: its exit code, or 2 for a bad flag and 1 for any other error, told on stderr. */
async function exitCodeOf(command: string, action: () => Promise<number>): Promise<number> {
  try {
    return await action();
  } catch (err) {
    console.error(`dockerlet cluster ${command}: ${errorMessage(err)}`);
    return isDockerletError(err) && err.status === 2 ? 2 : 1;
  }
}

function addTargetFlags(command: Command): Command {
  return command
    .option('--name <name>', `the cluster's name, and its node's (default: ${DefaultClusterName})`)
    .option('--dir <dir>', `the cluster's directory: its PKI, etcd data, kubeconfigs, logs and node (default: ${ClustersRoot}/<name>)`);
}

export function addClusterCommands(program: Command): void {
  const cluster = program
    .command('cluster')
    .description("a Kubernetes cluster on this host: etcd, kube-apiserver, kube-controller-manager and kube-scheduler (built once from Debian's kubernetes source), with dockerlet as its node (or nodes)");
  addTargetFlags(cluster.command('up'))
    .description('make the cluster, or resume it, and run it until Ctrl-C (the pods keep running), or in the background with --detach; returns or prints the kubeconfig once the node is Ready')
    .option('--api-server-port <port>', `the API server's port (default: ${DefaultApiServerPort}, or the port the cluster had)`)
    .option('--nodes <n>', `a new cluster's nodes, 1-${MaxNodes} (default: 1): this host, and each further one in a network namespace of its own with its own Docker engine, the pod network routed between them`)
    .option('--pod-manifest-path <path>', "static pods for the node, shown in the cluster as mirror pods")
    .option('--resolv-conf <file>', "the resolver config the node's cluster DNS forwards other names with (default: /etc/resolv.conf)")
    .option('--merge-kubeconfig', `also put the cluster into $KUBECONFIG or ~/.kube/config as context dockerlet-<name>, made current`)
    .option('--detach', 'run in the background (output in <dir>/logs/cluster.log); return once the node is Ready')
    .action(async (flags: UpFlags) => {
      process.exitCode = await exitCodeOf('up', async () => clusterUp(await upSettings(flags), out));
    });
  addTargetFlags(cluster.command('down'))
    .description("stop the cluster and remove it: its processes, the node's containers, service rules and mounts, and its directory")
    .option('--keep-data', "remove only the node's part: etcd's data, the persistent volumes' data (volumes/), the PKI, the kubeconfigs and the logs stay, and the next up resumes the cluster with its objects")
    .action(async (flags: ClusterFlags & { keepData?: boolean }) => {
      process.exitCode = await exitCodeOf('down', async () => clusterDown(clusterTarget(flags), flags.keepData === true, out));
    });
  addTargetFlags(cluster.command('status'))
    .description("the cluster's components, versions, endpoints and kubeconfig; exits 0 only when it is up and Ready")
    .action(async (flags: ClusterFlags) => {
      process.exitCode = await exitCodeOf('status', async () => clusterStatus(clusterTarget(flags), out));
    });
  addTargetFlags(cluster.command('load-image'))
    .description("copy images from this host's Docker engine into the further nodes' engines (--nodes), as kind load docker-image does: the first node, this host, has them already")
    .argument('<image...>')
    .action(async (images: string[], flags: ClusterFlags) => {
      process.exitCode = await exitCodeOf('load-image', async () => clusterLoadImage(clusterTarget(flags), images, out));
    });
  addTargetFlags(cluster.command('logs'))
    .description(`a component's log: ${ComponentsHelp}`)
    .argument('<component>')
    .option('-f, --follow', 'keep printing what the component logs, until Ctrl-C')
    .option('--tail <lines>', 'only the last lines (default: all)')
    .action(async (component: string, flags: ClusterFlags & LogsFlags) => {
      process.exitCode = await exitCodeOf('logs', async () => clusterLogs(clusterTarget(flags), component, flags));
    });
}

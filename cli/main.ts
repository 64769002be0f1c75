#!/usr/bin/env -S node --max-semi-space-size=4
/**
 * dockerlet's command line. Exit codes: 0 clean shutdown, 1 runtime error, 2 bad flags or
 * config (the message names the flag or field).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { errorMessage } from '../common/api/errors.js';
import { DockerletVersion, KubeletVersion } from '../common/version.js';
import { addClusterCommands } from './cluster/cluster-command.js';
import { runAgent, runLocalProvisioner, runProxy, type CommonFlags, type LocalProvisionerFlags, type StandaloneProxyFlags } from './commands.js';
import type { LoggingFormat } from './logger.js';
import { downManifests, runManifests, type RunFlags } from './run-command.js';
import { Defaults, type AgentFlags } from './options.js';
import { ProxyDefaults } from './proxy-options.js';
import type { UpFlags } from './up-options.js';
import { ServerDefaults } from './server-options.js';

/** Where the local provisioner makes volumes when not told. */
const LocalVolumesDir = '/var/lib/dockerlet/local-volumes';

function addAgentFlags(command: Command): Command {
  return command
    .option('--config <file>', 'KubeletConfiguration file (kubelet.config.k8s.io/v1beta1); flags override it')
    .option('--pod-manifest-path <path>', 'directory (or file) of static pod manifests')
    .option('--manifest-url <url>', 'URL to poll for static pod manifests')
    .option('--manifest-url-header <pairs>', "HTTP headers for --manifest-url, 'Name:value,Name2:value2' (repeatable)", (value: string, previous: string[] = []) => [...previous, value])
    .option('--hostname-override <name>', 'node name (default: the host name)')
    .option('--root-dir <dir>', `where pod directories and volumes live (default: ${Defaults.rootDir})`)
    .option('--address <ip>', `address the HTTP servers bind (default: ${Defaults.address})`)
    .option('--port <port>', `kubelet API port, 0 disables (default: ${Defaults.port})`)
    .option('--read-only-port <port>', `read-only API port, 0 disables (default: ${Defaults.readOnlyPort})`)
    .option('--file-check-frequency <duration>', `rescan period of the manifest path (default: ${Defaults.fileCheckFrequency})`)
    .option('--http-check-frequency <duration>', `poll period of --manifest-url (default: ${Defaults.httpCheckFrequency})`)
    .option('--sync-frequency <duration>', `resync period of every pod (default: ${Defaults.syncFrequency})`)
    .option('--node-ip <ips>', 'node IP addresses, comma-separated (default: the first real interface)')
    .option('--cluster-dns <ips>', "cluster DNS server IPs for ClusterFirst pods (default: dockerlet's own on the pod bridge's gateway when it serves one, else none: the host resolvers)")
    .option('--allowed-host-path-prefixes <paths>', 'hostPath volumes must lie under one of these paths, comma-separated (default: anywhere, as the kubelet)')
    .option('--cluster-domain <domain>', `cluster domain (default: ${Defaults.clusterDomain})`)
    .option('--resolv-conf <file>', `the node's resolver config (default: ${Defaults.resolvConf})`)
    .option('--pod-infra-container-image <image>', `the pod sandbox image (default: ${Defaults.podInfraContainerImage})`)
    .option('--pod-cidr <cidr>', `subnet of the pod network (default: ${Defaults.podCIDR})`)
    .option('--pod-cidr-from-node [bool]', "take the pod subnet from this node's Node (spec.podCIDR, as the controller manager's --allocate-node-cidrs assigns it), waiting for it at start (cluster mode; default: false, --pod-cidr)")
    .option('--cgroup-root <name>', `the cgroup every pod goes under, its QoS classes' below it; each agent on a host needs its own (default: ${Defaults.cgroupRoot})`)
    .option('--pod-network <name>', `Docker network the pods join (default: ${Defaults.podNetwork})`)
    .option('--container-runtime-endpoint <endpoint>', `the Docker engine socket (default: ${Defaults.containerRuntimeEndpoint})`)
    .option('--runtime-request-timeout <duration>', `timeout of each Docker request (default: ${Defaults.runtimeRequestTimeout})`)
    .option('--image-pull-progress-deadline <duration>', `cancel an image pull that makes no progress for this long (default: ${Defaults.imagePullProgressDeadline})`)
    .option('--kubeconfig <file>', 'join the cluster of this kubeconfig as a node (default: standalone, no API server)')
    .option('--node-labels <pairs>', "labels the node registers with, 'key=value,key2=value2' (cluster mode)")
    .option('--register-with-taints <taints>', "taints the node registers with, 'key=value:Effect,...' (cluster mode)")
    .option('--node-status-update-frequency <duration>', `how often the node status is computed (default: ${Defaults.nodeStatusUpdateFrequency})`)
    .option('--node-routes [bool]', "route every other node's pod subnet via its InternalIP, the nodes sharing a layer-2 network; one agent per host (cluster mode; default: false)")
    .option('--max-pods <n>', `pods this node admits and runs, as its capacity says (default: ${Defaults.maxPods})`)
    .option('--allowed-unsafe-sysctls <patterns>', "unsafe sysctls pods may set, names or prefixes ending in *, comma-separated (default: the safe ones only)");
}

/** The secure server's TLS, authentication and authorization, with the kubelet's flag names. */
function addServerFlags(command: Command): Command {
  return command
    .option('--tls-cert-file <file>', 'the serving certificate (PEM, intermediates after it) of the kubelet API (default: a self-signed one in <root-dir>/pki)')
    .option('--tls-private-key-file <file>', 'the key of --tls-cert-file')
    .option('--tls-min-version <version>', 'the lowest TLS version: VersionTLS10, VersionTLS11, VersionTLS12 or VersionTLS13 (default: VersionTLS12)')
    .option('--tls-cipher-suites <names>', "TLS 1.2 cipher suites by Go's names, comma-separated (default: Node's)")
    .option('--client-ca-file <file>', 'client certificates signed by this CA authenticate as their CN, in the groups of their O')
    .option('--anonymous-auth [bool]', 'requests with no credentials are system:anonymous rather than refused (default: false)')
    .option('--authentication-token-webhook [bool]', 'check bearer tokens with the API server\'s TokenReview (default: true with --kubeconfig)')
    .option('--authentication-token-webhook-cache-ttl <duration>', `keep TokenReview answers this long (default: ${ServerDefaults.tokenWebhookCacheTtl})`)
    .addOption(new Option('--authorization-mode <mode>', 'AlwaysAllow, or Webhook to ask the API server with SubjectAccessReviews (default: Webhook with --kubeconfig, else AlwaysAllow)').choices(['AlwaysAllow', 'Webhook']))
    .option('--authorization-webhook-cache-authorized-ttl <duration>', `keep allowed answers this long (default: ${ServerDefaults.cacheAuthorizedTtl})`)
    .option('--authorization-webhook-cache-unauthorized-ttl <duration>', `keep denied answers this long (default: ${ServerDefaults.cacheUnauthorizedTtl})`)
    .option('--streaming-connection-idle-timeout <duration>', `close an exec, attach or port-forward connection silent this long (default: ${ServerDefaults.streamingConnectionIdleTimeout})`);
}

/** The cluster DNS server's switch (its domain and upstreams are the agent's --cluster-domain and --resolv-conf). */
const serveClusterDnsFlag = (byDefault: string): [string, string] => [
  '--serve-cluster-dns [bool]',
  `answer Services and pods by name (the Kubernetes DNS specification) on the pod bridge's gateway, port 53, forwarding other names to the host's resolvers (default: ${byDefault})`,
];

function addProxyFlags(command: Command): Command {
  return command
    .addOption(new Option('--proxy-mode <mode>', 'the datapath (default: iptables when it is usable)').choices(['iptables', 'userspace']))
    .option('--service-cluster-ip-range <cidr>', `the ClusterIP range; the host guard protects it (default: ${ProxyDefaults.serviceClusterIpRange})`)
    .option('--service-node-port-range <range>', `the NodePort range (default: ${ProxyDefaults.serviceNodePortRange})`)
    .option('--healthz-bind-address <ip:port>', `the proxy's HTTP server; port 0 disables it (default: ${ProxyDefaults.healthzBindAddress})`)
    .option('--proxy-sync-period <duration>', `full resync of the datapath (default: ${ProxyDefaults.proxySyncPeriod})`)
    .option('--remote-service-proxy', 'serve /proxy/... to clients on other hosts too (with a --healthz-bind-address they can reach); loopback clients only otherwise');
}

function addCommonFlags(command: Command, defaultFormat: LoggingFormat): Command {
  return command
    .addOption(new Option('--logging-format <format>', 'log format').choices(['json', 'text']).default(defaultFormat))
    // The kubelet's -v=2 spelling too: commander hands the short flag "=2".
    .option('-v, --v <level>', 'log verbosity: 0-1 info, 2-4 debug, 5+ trace', (value: string) => value.replace(/^=/, ''), '0');
}

function buildProgram(): Command {
  const program = new Command('dockerlet')
    .description('A kubelet for hosts that run Docker: static pods from a directory or a URL, run as Docker containers, and a service proxy')
    .version(`dockerlet ${DockerletVersion} (Kubernetes ${KubeletVersion})`, '--version', 'print the version and exit')
    .showHelpAfterError()
    .exitOverride();
  addCommonFlags(addServerFlags(addAgentFlags(program.command('agent').description('run the node agent (the kubelet)'))), 'json').action(
    async (flags: AgentFlags & CommonFlags) => {
      process.exitCode = await runAgent(flags, false);
    },
  );
  const up = program.command('up').description('run the agent and the service proxy, printing pods and services as they come up (what npm start runs)');
  up.option('--proxy-kubeconfig <file>', "the proxy's kubeconfig in cluster mode, for credentials that may list endpoints (default: --kubeconfig)");
  up.option(...serveClusterDnsFlag('true, but in cluster mode false when --cluster-dns names another server'));
  up.option('--cluster-cidr <cidr>', "the cluster's pod range, for the proxy: other sources reaching a ClusterIP are masqueraded (default: this node's --pod-cidr)");
  addCommonFlags(addProxyFlags(addServerFlags(addAgentFlags(up))), 'text').action(async (flags: UpFlags & CommonFlags) => {
    process.exitCode = await runAgent(flags, true);
  });
  const proxy = program
    .command('proxy')
    .description("run the service proxy alone: Services from the manifest sources and pods from an agent's read-only API, or Services and endpoints from an API server")
    .option('--kubeconfig <file>', 'take Services and EndpointSlices from the API server of this kubeconfig (kube-proxy credentials: ClusterRole system:node-proxier)')
    .option('--pod-manifest-path <path>', 'directory (or file) of manifests whose Services to serve')
    .option('--manifest-url <url>', 'URL of manifests whose Services to serve')
    .option('--kubelet-url <url>', `the agent's read-only API, for pods and their readiness (default: http://127.0.0.1:${Defaults.readOnlyPort})`)
    .option('--root-dir <dir>', `where the proxy keeps its allocations (default: ${Defaults.rootDir})`)
    .option('--cluster-cidr <cidr>', `the pods' CIDR; other sources reaching a ClusterIP are masqueraded (default: ${Defaults.podCIDR})`)
    .option('--hostname-override <name>', "this node's name, with --kubeconfig: endpoints on it are the ones Services with a Local traffic policy use (default: the host name)")
    .option(...serveClusterDnsFlag('false; give the agent --cluster-dns <the gateway> with it'))
    .option('--cluster-domain <domain>', `the cluster DNS's domain (default: ${Defaults.clusterDomain})`)
    .option('--resolv-conf <file>', `the host's resolver config: the cluster DNS forwards other names to its nameservers (default: ${Defaults.resolvConf})`)
    .option('--cleanup', 'remove every rule, address and sysctl the proxy set on this host, then exit');
  addCommonFlags(addProxyFlags(proxy), 'json').action(async (flags: StandaloneProxyFlags & CommonFlags) => {
    process.exitCode = await runProxy(flags);
  });
  const provisioner = program
    .command('local-provisioner')
    .description('provision local PersistentVolumes (StorageClass provisioner dockerlet.io/local-path) on this node for the claims the scheduler puts here, and delete them when released')
    .option('--kubeconfig <file>', 'the API server and credentials (ClusterRole system:persistent-volume-provisioner)')
    .option('--node-name <name>', 'the node whose claims it provisions (default: the host name, as the node\'s --hostname-override)')
    .option('--volume-dir <dir>', `where the volumes' directories are made (default: ${LocalVolumesDir})`, LocalVolumesDir);
  addCommonFlags(provisioner, 'json').action(async (flags: LocalProvisionerFlags & CommonFlags) => {
    process.exitCode = await runLocalProvisioner(flags);
  });
  const manifestPath = (value: string, previous: string[] = []): string[] => [...previous, value];
  program
    .command('run')
    .description("run manifests on a node of their own for a CI step: apply, wait, print pods and Services; the node stays in the background until `dockerlet down` (or, with --rm, runs here until its pods end)")
    .requiredOption('-f, --filename <path>', 'a manifest file or directory of Pods, ConfigMaps, Secrets, Services and storage (repeatable)', manifestPath)
    .option('--name <node>', 'the node name (default: run-<hash of the paths>, which `dockerlet down -f` finds again)')
    .option('--wait', 'wait until every pod is Ready, or Succeeded when it runs to completion; exit 1 when one fails or the timeout passes')
    .option('--timeout <duration>', 'how long --wait waits', '5m')
    .option('--rm', 'run in the foreground until the pods have all ended or Ctrl-C, then remove everything')
    .option('--resolv-conf <file>', `the resolver config whose nameservers answer names outside the cluster (default: ${Defaults.resolvConf})`)
    .addOption(new Option('--session-child').hideHelp())
    .action(async (flags: RunFlags) => {
      process.exitCode = await runManifests(flags);
    });
  program
    .command('down')
    .description('stop the node `dockerlet run` started for these paths and remove everything it made')
    .requiredOption('-f, --filename <path>', 'the paths given to `dockerlet run` (repeatable)', manifestPath)
    .option('--name <node>', 'the node name given to `dockerlet run --name`')
    .action(async (flags: { filename: string[]; name?: string }) => {
      process.exitCode = await downManifests(flags);
    });
  program
    .command('setup-host')
    .description("set this host up for dockerlet, as root: Docker (installed when missing, started), the local pause and busybox images, the service CIDR guard; what npm start and the library's test nodes need")
    .action(() => {
      process.exitCode = spawnSync('bash', [fileURLToPath(new URL('../../scripts/setup-host.sh', import.meta.url))], { stdio: 'inherit' }).status ?? 1;
    });
  addClusterCommands(program);
  for (const command of [...program.commands, ...program.commands.flatMap((command) => command.commands)]) command.exitOverride().showHelpAfterError();
  return program;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
  } else {
    console.error(`dockerlet: ${errorMessage(err)}`);
    process.exitCode = 1;
  }
}
// A stopped node leaves what is under way (a pod's kill, its requests to the engine) to the next start: nothing of it may hold the process.
process.exit();

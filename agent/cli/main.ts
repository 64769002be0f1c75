#!/usr/bin/env node
/**
 * dockerlet's command line. Exit codes: 0 clean shutdown, 1 runtime error, 2 bad flags or
 * config (the message names the flag or field).
 */
import { Command, CommanderError, Option } from 'commander';
import type { Logger } from 'pino';
import { errorMessage, isDockerletError } from '../api/errors.js';
import { Kubelet } from '../kubelet.js';
import { createLogger, type LoggingFormat } from './logger.js';
import { Defaults, resolveAgentOptions, type AgentFlags } from './options.js';
import { podSummaryLine } from './pod-summary.js';

interface CommonFlags {
  loggingFormat: LoggingFormat;
  v: string;
}

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
    .option('--cluster-dns <ips>', 'cluster DNS server IPs for ClusterFirst pods (default: none: the host resolvers)')
    .option('--allowed-host-path-prefixes <paths>', 'hostPath volumes must lie under one of these paths, comma-separated (default: anywhere, as the kubelet)')
    .option('--cluster-domain <domain>', `cluster domain (default: ${Defaults.clusterDomain})`)
    .option('--resolv-conf <file>', `the node's resolver config (default: ${Defaults.resolvConf})`)
    .option('--pod-infra-container-image <image>', `the pod sandbox image (default: ${Defaults.podInfraContainerImage})`)
    .option('--pod-cidr <cidr>', `subnet of the pod network (default: ${Defaults.podCIDR})`)
    .option('--pod-network <name>', `Docker network the pods join (default: ${Defaults.podNetwork})`)
    .option('--container-runtime-endpoint <endpoint>', `the Docker engine socket (default: ${Defaults.containerRuntimeEndpoint})`)
    .option('--runtime-request-timeout <duration>', `timeout of each Docker request (default: ${Defaults.runtimeRequestTimeout})`);
}

function addCommonFlags(command: Command, defaultFormat: LoggingFormat): Command {
  return command
    .addOption(new Option('--logging-format <format>', 'log format').choices(['json', 'text']).default(defaultFormat))
    .option('-v, --v <level>', 'log verbosity: 0-1 info, 2-4 debug, 5+ trace', '0');
}

/** Runs the agent until SIGINT or SIGTERM; pods keep running when it stops. */
async function runAgent(flags: AgentFlags & CommonFlags, printSummary: boolean): Promise<number> {
  const verbosity = Number(flags.v);
  if (!Number.isInteger(verbosity) || verbosity < 0) {
    console.error(`--v: invalid value ${JSON.stringify(flags.v)}: must be a non-negative integer`);
    return 2;
  }
  const log: Logger = createLogger(flags.loggingFormat, verbosity);
  let kubelet: Kubelet;
  try {
    const resolved = await resolveAgentOptions(flags);
    if (resolved.ignoredConfigFields.length > 0) {
      log.warn({ fields: resolved.ignoredConfigFields }, `--config: dockerlet does not act on these fields: ${resolved.ignoredConfigFields.join(', ')}`);
    }
    kubelet = new Kubelet(resolved.options, { logger: log });
  } catch (err) {
    console.error(`dockerlet: ${errorMessage(err)}`);
    return isDockerletError(err) && err.status === 2 ? 2 : 1;
  }
  if (printSummary) {
    kubelet.statuses.onChange((pod, status, previous) => {
      const line = podSummaryLine(pod, status, previous);
      if (line) console.log(line);
    });
  }
  try {
    await kubelet.start();
  } catch (err) {
    log.error({ err }, 'the agent could not start');
    console.error(`dockerlet: ${errorMessage(err)}`);
    await kubelet.stop();
    return isDockerletError(err) && err.status === 2 ? 2 : 1;
  }
  if (printSummary) {
    const { port, readOnlyPort } = kubelet.listening;
    console.log(`dockerlet is running on node ${kubelet.options.nodeName}: pods ${readOnlyPort ?? port ?? ''}/pods; Ctrl-C stops the agent (pods keep running)`);
  }
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) process.exit(1);
      stopping = true;
      log.info({ signal }, 'stopping; running pods are left running');
      void kubelet.stop().then(() => resolve(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

function buildProgram(): Command {
  const program = new Command('dockerlet')
    .description('A kubelet for hosts that run Docker: static pods from a directory or a URL, run as Docker containers')
    .showHelpAfterError()
    .exitOverride();
  addCommonFlags(addAgentFlags(program.command('agent').description('run the node agent (the kubelet)')), 'json').action(
    async (flags: AgentFlags & CommonFlags) => {
      process.exitCode = await runAgent(flags, false);
    },
  );
  addCommonFlags(addAgentFlags(program.command('up').description('run the agent, printing each pod as it comes up (what npm start runs)')), 'text').action(
    async (flags: AgentFlags & CommonFlags) => {
      process.exitCode = await runAgent(flags, true);
    },
  );
  for (const command of program.commands) command.exitOverride().showHelpAfterError();
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

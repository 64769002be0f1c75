/**
 * A network namespace standing in for a node's routing table: a veth pair gives it the address
 * 192.168.77.10/24 on a stand-in for the nodes' shared layer-2 network, so routes via
 * 192.168.77.x are accepted there and routes via anything else refused. The machine's own table
 * is never read or written.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { IpCommand } from '../../agent/network/ip-route-table.js';
import { ExecCommandRunner, type CommandRunner } from '../../common/util/command-runner.js';
import { RouteProtocol } from '../../agent/network/node-routes.js';

const run = promisify(execFile);

/** This node's address in the namespace. */
export const NodeAddress = '192.168.77.10';

export interface RouteNetns {
  /** `ip` inside the namespace. */
  ip: IpCommand;
  /** Commands (iptables, iptables-restore) inside the namespace: its own tables, none of the machine's. */
  runner: CommandRunner;
  /** `iptables-save -t <table>` inside the namespace: its rule lines (-A ...). */
  savedRules(table: 'nat' | 'filter'): Promise<string[]>;
  /** The namespace's routes of the agent's protocol, as `ip route show proto` prints them (without the protocol). */
  agentRoutes(): Promise<string[]>;
  /** Deletes the namespace with its links and routes. */
  destroy(): Promise<void>;
}

export async function createRouteNetns(): Promise<RouteNetns> {
  const name = `dkl-routes-${randomBytes(3).toString('hex')}`;
  await run('ip', ['netns', 'add', name]);
  const ip: IpCommand = async (args) => (await run('ip', ['-n', name, ...args], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } })).stdout;
  const runner = new ExecCommandRunner({ netns: name });
  const netns: RouteNetns = {
    ip,
    runner,
    savedRules: async (table) =>
      (await run('ip', ['netns', 'exec', name, 'iptables-save', '-t', table], { encoding: 'utf8' })).stdout.split('\n').filter((line) => line.startsWith('-A ')),
    agentRoutes: async () => (await ip(['-4', 'route', 'show', 'proto', String(RouteProtocol)])).trim().split('\n').filter(Boolean).map((line) => line.trim()),
    destroy: async () => void (await run('ip', ['netns', 'del', name])),
  };
  try {
    await ip(['link', 'add', 'node0', 'type', 'veth', 'peer', 'name', 'peer0']);
    await ip(['addr', 'add', `${NodeAddress}/24`, 'dev', 'node0']);
    await ip(['link', 'set', 'node0', 'up']);
    await ip(['link', 'set', 'peer0', 'up']);
  } catch (err) {
    await netns.destroy();
    throw err;
  }
  return netns;
}

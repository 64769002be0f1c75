/**
 * net.ipv4.conf.all.route_localnet=1, which lets NodePorts answer on 127.0.0.1 as they do with
 * kube-proxy's iptables mode (a packet from 127.0.0.1 may then be routed to a pod, and is
 * masqueraded on the way). It opens a hole: other hosts could reach services bound to the
 * node's loopback through it; DOCKERLET-FIREWALL closes it. The value found before the first change is kept in a file, so cleanup() restores
 * it even from another process; a restarted proxy does not overwrite it.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { writeFileDurably } from '../../../common/util/durable-file.js';
import { DockerletError } from '../../../common/api/errors.js';
import type { CommandRunner } from '../../../common/util/command-runner.js';

export const RouteLocalnetSysctl = 'net.ipv4.conf.all.route_localnet';
/** Under the proxier's stateDir. */
export const RouteLocalnetStateFile = 'iptables-route-localnet';

export class RouteLocalnet {
  readonly #runner: CommandRunner;
  readonly #statePath: string;
  readonly #log: Logger;

  constructor(runner: CommandRunner, stateDir: string, log: Logger) {
    this.#runner = runner;
    this.#statePath = join(stateDir, RouteLocalnetStateFile);
    this.#log = log;
  }

  /** Sets route_localnet=1, saving the value it had first. A failure is logged: only localhost NodePorts need it. */
  async enable(): Promise<boolean> {
    const current = await this.#runner.run('sysctl', ['-n', RouteLocalnetSysctl]);
    const value = current.stdout.trim();
    if (current.code !== 0 || !/^\d+$/.test(value)) {
      this.#log.warn({ sysctl: RouteLocalnetSysctl, stderr: current.stderr.trim() }, 'cannot read route_localnet; NodePorts will not answer on 127.0.0.1');
      return false;
    }
    if ((await this.#savedValue()) === undefined) await this.#save(value);
    if (value === '1') return true;
    const set = await this.#runner.run('sysctl', ['-q', '-w', `${RouteLocalnetSysctl}=1`]);
    if (set.code !== 0) {
      this.#log.warn({ sysctl: RouteLocalnetSysctl, stderr: set.stderr.trim() }, 'cannot set route_localnet=1; NodePorts will not answer on 127.0.0.1');
      return false;
    }
    this.#log.info({ sysctl: RouteLocalnetSysctl, previous: value }, 'route_localnet set to 1 so NodePorts answer on 127.0.0.1');
    return true;
  }

  /** The value in effect; undefined when it cannot be read. */
  async current(): Promise<string | undefined> {
    const current = await this.#runner.run('sysctl', ['-n', RouteLocalnetSysctl]);
    const value = current.stdout.trim();
    return current.code === 0 && /^\d+$/.test(value) ? value : undefined;
  }

  /**
   * Puts back the value saved by enable(), if there is one, and forgets it; rejects, keeping the
   * file, when it cannot. Resolves whether there was a value to put back.
   */
  async restore(): Promise<boolean> {
    const saved = await this.#savedValue();
    if (saved === undefined) return false;
    const set = await this.#runner.run('sysctl', ['-q', '-w', `${RouteLocalnetSysctl}=${saved}`]);
    if (set.code !== 0) {
      throw new DockerletError('DKL_ERR_RUNTIME', `cannot restore ${RouteLocalnetSysctl}=${saved} (${set.stderr.trim() || `exit ${set.code}`}); ${this.#statePath} is kept for the next cleanup`);
    }
    await rm(this.#statePath, { force: true });
    this.#log.info({ sysctl: RouteLocalnetSysctl, value: saved }, 'route_localnet restored');
    return true;
  }

  async #savedValue(): Promise<string | undefined> {
    try {
      const text = (await readFile(this.#statePath, 'utf8')).trim();
      return /^\d+$/.test(text) ? text : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async #save(value: string): Promise<void> {
    await writeFileDurably(this.#statePath, `${value}\n`);
  }
}

/**
 * The host addresses the userspace datapath binds to. A ClusterIP must be a local address before
 * a socket can listen on it; kube-proxy's ipvs mode puts every ClusterIP on a dummy interface
 * (kube-ipvs0), but the dummy module is absent on this kind of machine, so each ClusterIP goes
 * on `lo` as a /32 (`ip addr add <vip>/32 dev lo`). Traffic to it then stays on the host (local
 * routing table), which also keeps the service CIDR guard's "except to lo" path the only one used.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DockerletError } from '../../../common/api/errors.js';

/** Adds, lists and removes IPv4 /32 addresses on one interface. */
export interface AddressManager {
  /** The IPv4 addresses that are on the interface with prefix length 32. */
  list(): Promise<string[]>;
  /** Puts `ip`/32 on the interface; already there is fine. */
  add(ip: string): Promise<void>;
  /** Takes `ip`/32 off the interface; already gone is fine. */
  remove(ip: string): Promise<void>;
}

/** Runs `ip` with these arguments and returns its standard output; rejects with its standard error. */
export type IpRunner = (args: readonly string[]) => Promise<string>;

const execFileAsync = promisify(execFile);

const runIp: IpRunner = async (args) => (await execFileAsync('ip', [...args], { encoding: 'utf8' })).stdout;

export interface IpAddressManagerOptions {
  /** The interface; `lo` unless told. */
  device?: string;
  /** Run in this network namespace (`ip -n NAME ...`): for tests that must not touch the host. */
  netns?: string;
  run?: IpRunner;
}

interface IpAddrJson {
  addr_info?: { family?: string; local?: string; prefixlen?: number }[];
}

/** The AddressManager of a real host: iproute2's `ip`. */
export class IpAddressManager implements AddressManager {
  readonly device: string;
  readonly #netns: string | undefined;
  readonly #run: IpRunner;

  constructor(options: IpAddressManagerOptions = {}) {
    this.device = options.device ?? 'lo';
    this.#netns = options.netns;
    this.#run = options.run ?? runIp;
  }

  async list(): Promise<string[]> {
    const stdout = await this.#ip(['-j', '-4', 'addr', 'show', 'dev', this.device], 'listing the addresses of');
    let parsed: IpAddrJson[];
    try {
      parsed = JSON.parse(stdout || '[]') as IpAddrJson[];
    } catch (err) {
      throw new DockerletError('DKL_ERR_RUNTIME', `listing the addresses of ${this.device}: \`ip -j\` printed no JSON (iproute2 too old?)`, { cause: err });
    }
    return parsed
      .flatMap((link) => link.addr_info ?? [])
      .filter((info) => info.family === 'inet' && info.prefixlen === 32 && typeof info.local === 'string')
      .map((info) => info.local!);
  }

  async add(ip: string): Promise<void> {
    try {
      await this.#ip(['addr', 'add', `${ip}/32`, 'dev', this.device], `adding ${ip}/32 to`);
    } catch (err) {
      // "File exists" / "Address already assigned", worded differently across iproute2 versions.
      if (await this.#has(ip)) return;
      throw err;
    }
  }

  async remove(ip: string): Promise<void> {
    try {
      await this.#ip(['addr', 'del', `${ip}/32`, 'dev', this.device], `removing ${ip}/32 from`);
    } catch (err) {
      if ((await this.#has(ip)) === false) return;
      throw err;
    }
  }

  /** Whether `ip`/32 is there; undefined when even listing fails. */
  async #has(ip: string): Promise<boolean | undefined> {
    try {
      return (await this.list()).includes(ip);
    } catch {
      return undefined;
    }
  }

  async #ip(args: string[], doing: string): Promise<string> {
    const full = this.#netns === undefined ? args : ['-n', this.#netns, ...args];
    try {
      return await this.#run(full);
    } catch (err) {
      const stderr = (err as { stderr?: unknown }).stderr;
      const detail = typeof stderr === 'string' && stderr.trim() !== '' ? stderr.trim() : String(err);
      throw new DockerletError('DKL_ERR_RUNTIME', `${doing} ${this.device} (ip ${full.join(' ')}): ${detail}`, { cause: err });
    }
  }
}

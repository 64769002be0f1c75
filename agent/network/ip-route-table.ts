/**
 * The host's routing table through iproute2: the RouteTable of a real node. `ip` runs with
 * LC_ALL=C, so that its errors are the kernel's English words whatever the host's locale.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DockerletError } from '../../common/api/errors.js';
import { parseIpv4Cidr } from '../../common/util/ipv4.js';
import { RouteProtocol, type ForeignRoute, type NodeRoute, type RouteSnapshot, type RouteTable } from './node-routes.js';

/** Runs `ip` with these arguments and returns its standard output; rejects with its standard error. */
export type IpCommand = (args: readonly string[]) => Promise<string>;

const execFileAsync = promisify(execFile);
const runIp: IpCommand = async (args) => (await execFileAsync('ip', [...args], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } })).stdout;

interface IpRouteJson {
  dst?: string;
  gateway?: string;
  protocol?: string;
  scope?: string;
}

interface IpAddressJson {
  addr_info?: Array<{ family?: string; local?: string }>;
}

const Protocol = String(RouteProtocol);

export class IpRouteTable implements RouteTable {
  readonly #run: IpCommand;

  constructor(run: IpCommand = runIp) {
    this.#run = run;
  }

  async read(): Promise<RouteSnapshot> {
    const routes = await this.#json<IpRouteJson[]>(['-j', '-4', 'route', 'show', 'table', 'main']);
    const addresses = await this.#json<IpAddressJson[]>(['-j', '-4', 'address', 'show']);
    const own: NodeRoute[] = [];
    const foreign: ForeignRoute[] = [];
    for (const route of routes) {
      // `ip` prints a host route's destination without its /32.
      const destination = route.dst && route.dst !== 'default' ? parseIpv4Cidr(route.dst.includes('/') ? route.dst : `${route.dst}/32`)?.text : undefined;
      if (!destination) continue;
      if (route.protocol === Protocol) {
        if (route.gateway) own.push({ destination, gateway: route.gateway });
      } else {
        foreign.push({ destination, onLink: route.scope === 'link' });
      }
    }
    const localAddresses = addresses.flatMap((link) => (link.addr_info ?? []).flatMap((info) => (info.family === 'inet' && info.local ? [info.local] : [])));
    return { own, foreign, localAddresses };
  }

  async add(route: NodeRoute): Promise<void> {
    await this.#run(['-4', 'route', 'add', route.destination, 'via', route.gateway, 'proto', Protocol]);
  }

  async replace(route: NodeRoute): Promise<void> {
    await this.#run(['-4', 'route', 'replace', route.destination, 'via', route.gateway, 'proto', Protocol]);
  }

  async remove(route: NodeRoute): Promise<void> {
    try {
      await this.#run(['-4', 'route', 'del', route.destination, 'via', route.gateway, 'proto', Protocol]);
    } catch (err) {
      // Already gone: the kernel answers ESRCH.
      if (/No such process/.test(String((err as { stderr?: unknown }).stderr ?? err))) return;
      throw err;
    }
  }

  async #json<T>(args: readonly string[]): Promise<T> {
    const stdout = await this.#run(args);
    try {
      return JSON.parse(stdout.trim() || '[]') as T;
    } catch (err) {
      throw new DockerletError('DKL_ERR_RUNTIME', `\`ip ${args.join(' ')}\` printed no JSON (iproute2 too old?)`, { cause: err });
    }
  }
}

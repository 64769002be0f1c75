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
  metric?: number;
  scope?: string;
}

const routeKey = (route: IpRouteJson): string => `${route.dst ?? ''} ${route.gateway ?? ''} ${route.metric ?? 0}`;

/** A route's destination as a CIDR; undefined for the default route. `ip` prints a host route without its /32. */
function destinationOf(route: IpRouteJson): string | undefined {
  if (!route.dst || route.dst === 'default') return undefined;
  return parseIpv4Cidr(route.dst.includes('/') ? route.dst : `${route.dst}/32`)?.text;
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
    // This agent's routes are asked for by protocol number, which the kernel matches whatever
    // name rt_protos gives it; every other route of the table is someone else's.
    const [ownRoutes, allRoutes, addresses] = await Promise.all([
      this.#json<IpRouteJson[]>(['-j', '-4', 'route', 'show', 'table', 'main', 'proto', Protocol]),
      this.#json<IpRouteJson[]>(['-j', '-4', 'route', 'show', 'table', 'main']),
      this.#json<IpAddressJson[]>(['-j', '-4', 'address', 'show']),
    ]);
    const own: NodeRoute[] = ownRoutes.flatMap((route) => {
      const destination = destinationOf(route);
      return destination ? [{ destination, gateway: route.gateway ?? '' }] : [];
    });
    // The whole table lists the agent's routes again: each is left out once, by destination,
    // gateway and metric, so that another route to the same destination still shows.
    const ownLeft = new Map<string, number>();
    for (const route of ownRoutes) ownLeft.set(routeKey(route), (ownLeft.get(routeKey(route)) ?? 0) + 1);
    const foreign: ForeignRoute[] = allRoutes.flatMap((route) => {
      const destination = destinationOf(route);
      const left = ownLeft.get(routeKey(route)) ?? 0;
      if (left > 0) {
        ownLeft.set(routeKey(route), left - 1);
        return [];
      }
      return destination ? [{ destination, onLink: route.scope === 'link' }] : [];
    });
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
      await this.#run(['-4', 'route', 'del', route.destination, ...(route.gateway ? ['via', route.gateway] : []), 'proto', Protocol]);
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

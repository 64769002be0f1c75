/** The host's routing table through iproute2 (`ip -4 route ... proto RouteProtocol`): the RouteTable of a real node. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DockerletError, errorMessage } from '../../common/api/errors.js';
import { RouteProtocol, type NodeRoute, type RouteTable } from './node-routes.js';

/** Runs `ip` with these arguments and returns its standard output; rejects with its standard error. */
export type IpCommand = (args: readonly string[]) => Promise<string>;

const execFileAsync = promisify(execFile);
const runIp: IpCommand = async (args) => (await execFileAsync('ip', [...args], { encoding: 'utf8' })).stdout;

interface IpRouteJson {
  dst?: string;
  gateway?: string;
}

export class IpRouteTable implements RouteTable {
  readonly #run: IpCommand;

  constructor(run: IpCommand = runIp) {
    this.#run = run;
  }

  async list(): Promise<NodeRoute[]> {
    const stdout = await this.#run(['-j', '-4', 'route', 'show', 'proto', String(RouteProtocol)]);
    let parsed: IpRouteJson[];
    try {
      parsed = JSON.parse(stdout.trim() || '[]') as IpRouteJson[];
    } catch (err) {
      throw new DockerletError('DKL_ERR_RUNTIME', 'listing the routes to other nodes: `ip -j` printed no JSON (iproute2 too old?)', { cause: err });
    }
    // `ip` prints a host route's destination without its /32.
    return parsed.flatMap((route) => (route.dst && route.gateway ? [{ destination: route.dst.includes('/') ? route.dst : `${route.dst}/32`, gateway: route.gateway }] : []));
  }

  async replace(route: NodeRoute): Promise<void> {
    await this.#run(['-4', 'route', 'replace', route.destination, 'via', route.gateway, 'proto', String(RouteProtocol)]);
  }

  async remove(route: NodeRoute): Promise<void> {
    try {
      await this.#run(['-4', 'route', 'del', route.destination, 'via', route.gateway, 'proto', String(RouteProtocol)]);
    } catch (err) {
      // Already gone: the kernel answers ESRCH.
      if (/No such process/.test((err as { stderr?: string }).stderr ?? errorMessage(err))) return;
      throw err;
    }
  }
}

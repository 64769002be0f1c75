/**
 * The load generators of the proxy and cross-node benchmarks, run from the host: iperf3 for bulk
 * throughput, wrk for new-connection HTTP requests at a given concurrency, and a 64-byte ping-pong on one
 * persistent connection for request latency (timed here with hrtime: the same client for every
 * path, so its own cost cancels out in the comparison). With `netns` (a path such as
 * /proc/<pid>/ns/net), iperf3 and the ping-pong run inside that network namespace, a pod's, with
 * nsenter: the host's binaries, the pod's interfaces and routes.
 */
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const PingPongChild = join(import.meta.dirname, 'ping-pong-child.ts');

/** The command and its arguments, inside the network namespace `netns` when one is given. */
const inNetns = (netns: string | undefined, command: string, args: string[]): [string, string[]] =>
  netns === undefined ? [command, args] : ['nsenter', [`--net=${netns}`, '--', command, ...args]];

/** The image scripts/setup-host.sh --for-bench builds around the host's iperf3, for servers in pods. */
export async function iperf3Image(): Promise<string> {
  const { stdout } = await run('dpkg-query', ['-W', '-f', '${Version}', 'iperf3']);
  return `dockerlet.local/iperf3:${stdout.split('-')[0]}`;
}

/** iperf3 client to host:port for `seconds` (the first second left out): received MB/s. */
export async function iperf3(host: string, port: number, seconds: number, netns?: string): Promise<number> {
  const { stdout } = await run(...inNetns(netns, 'iperf3', ['--client', host, '--port', String(port), '--time', String(seconds), '--omit', '1', '--json']), {
    timeout: (seconds + 30) * 1000,
    maxBuffer: 16 * 1024 * 1024,
  });
  const result = JSON.parse(stdout) as { end?: { sum_received?: { bits_per_second?: number } }; error?: string };
  const bps = result.end?.sum_received?.bits_per_second;
  if (bps === undefined) throw new Error(`iperf3 to ${host}:${port}: ${result.error ?? 'no result'}`);
  return bps / 8 / 1e6;
}

/** wrk with `connections` connections on 2 threads for `seconds`: requests per second. */
export async function wrk(url: string, connections: number, seconds: number): Promise<number> {
  const { stdout } = await run('wrk', ['--threads', '2', '--connections', String(connections), '--duration', `${seconds}s`, url], { timeout: (seconds + 30) * 1000 });
  const match = /^Requests\/sec:\s+([\d.]+)/m.exec(stdout);
  if (!match) throw new Error(`wrk ${url}: no Requests/sec in its output: ${stdout}`);
  return Number(match[1]);
}

/**
 * `count` round trips of 64 bytes on one connection to an echo server at host:port, after
 * `warmUp` untimed ones: each round trip's time in µs.
 */
export function pingPong(host: string, port: number, count: number, warmUp = 200): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true });
    const message = Buffer.alloc(64, 0x61);
    const samples: number[] = [];
    let received = 0;
    let sentAt = 0n;
    let sent = 0;
    const send = (): void => {
      sent += 1;
      received = 0;
      sentAt = process.hrtime.bigint();
      socket.write(message);
    };
    socket.setTimeout(5000, () => socket.destroy(new Error(`ping-pong to ${host}:${port}: no answer for 5 s`)));
    socket.once('connect', send);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received < message.length) return;
      if (sent > warmUp) samples.push(Number(process.hrtime.bigint() - sentAt) / 1000);
      if (samples.length === count) {
        socket.destroy();
        resolve(samples);
      } else {
        send();
      }
    });
    socket.once('error', reject);
  });
}

/** pingPong() run by a child process inside the network namespace `netns` (Node cannot enter one itself): each round trip's time in µs. */
export async function pingPongIn(netns: string, host: string, port: number, count: number, warmUp = 200): Promise<number[]> {
  const { stdout } = await run(...inNetns(netns, process.execPath, ['--import', 'tsx', PingPongChild, host, String(port), String(count), String(warmUp)]), {
    timeout: 120_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout) as number[];
}

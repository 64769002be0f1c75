/** The host network as the benchmarks see it: whether a port accepts, and the connection tracker. */
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Whether a TCP connection to host:port is accepted (true) or refused, reset or unanswered for a second (false). */
export function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 1000 });
    const done = (accepted: boolean): void => {
      socket.destroy();
      resolve(accepted);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

/**
 * Forgets the host's tracked TCP connections whose replies come from `ip` (conntrack -D). A run of
 * tens of thousands of short connections leaves as many TIME_WAIT entries; the next run to the
 * same server through a NAT (a ClusterIP) would collide with their reply tuples and pay for it.
 */
export async function forgetConnections(ip: string): Promise<void> {
  // conntrack exits 1 when there was nothing to delete.
  await run('conntrack', ['-D', '-p', 'tcp', '--reply-src', ip]).catch((err: { code?: number }) => {
    if (err.code !== 1) throw err;
  });
}

/** The host network as the benchmarks see it: whether a port accepts, and the connection tracker. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';

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
  // It prints every entry it deletes (tens of thousands): nothing to keep. It exits 1 when there was nothing to delete.
  const child = spawn('conntrack', ['-D', '-p', 'tcp', '--reply-src', ip], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0 && code !== 1) throw new Error(`conntrack -D --reply-src ${ip} failed (exit ${String(code)}): ${stderr.trim()}`);
}

/** The tcpSocket probe (pkg/probe/tcp DoTCPProbe): a connection that opens succeeds, even if closed at once. */
import { connect } from 'node:net';
import type { ProbeRun } from './probe-run.js';

export function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeRun> {
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.destroy();
      resolve({ result: 'Success', output: '' });
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve({ result: 'Failure', output: `dial tcp ${address}: i/o timeout` });
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      socket.destroy();
      resolve({ result: 'Failure', output: `dial tcp ${address}: ${err.code === 'ECONNREFUSED' ? 'connect: connection refused' : err.message}` });
    });
  });
}

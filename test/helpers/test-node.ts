/**
 * What each test node (and benchmark run) gets to keep out of the others' way: a unique name
 * and free ports. No vitest here, so the benchmarks can use it too.
 */
import { createServer } from 'node:net';

let counter = 0;

export function uniqueNodeName(prefix = 't'): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 6)}`;
}

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

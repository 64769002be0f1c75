import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { tcpProbe } from '../../../../agent/probe/tcp-probe.js';
import { closedPort } from '../../loopback.js';

let server: Server | undefined;

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

describe('tcpProbe', () => {
  test('a listening port is Success with no output, even when the server hangs up at once', async () => {
    server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await expect(tcpProbe('127.0.0.1', port, 1000)).resolves.toEqual({ result: 'Success', output: '' });
  });

  test('a closed port is Failure: "dial tcp 127.0.0.1:<port>: connect: connection refused"', async () => {
    const port = await closedPort();
    await expect(tcpProbe('127.0.0.1', port, 1000)).resolves.toEqual({ result: 'Failure', output: `dial tcp 127.0.0.1:${port}: connect: connection refused` });
  });
});

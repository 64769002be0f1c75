import { Server, ServerCredentials } from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatusMap } from 'grpc-health-check';
import { afterEach, describe, expect, test } from 'vitest';
import { grpcProbe } from '../../../../agent/probe/grpc-probe.js';
import { closedPort } from '../../loopback.js';

let server: Server | undefined;

afterEach(() => {
  server?.forceShutdown();
  server = undefined;
});

/** A gRPC server on 127.0.0.1; with the standard health service when `statuses` is given. */
async function grpcServer(statuses?: ServingStatusMap): Promise<number> {
  server = new Server();
  if (statuses) new HealthImplementation(statuses).addToServer(server);
  return new Promise((resolve, reject) => {
    server!.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
  });
}

describe('grpcProbe', () => {
  test('SERVING is Success: "service healthy"', async () => {
    const port = await grpcServer({ '': 'SERVING' });
    await expect(grpcProbe('127.0.0.1', port, '', 1000)).resolves.toEqual({ result: 'Success', output: 'service healthy' });
  });

  test('NOT_SERVING is Failure: service unhealthy (responded with "NOT_SERVING")', async () => {
    const port = await grpcServer({ '': 'NOT_SERVING' });
    await expect(grpcProbe('127.0.0.1', port, '', 1000)).resolves.toEqual({ result: 'Failure', output: 'service unhealthy (responded with "NOT_SERVING")' });
  });

  test('a named service is asked about by name', async () => {
    const port = await grpcServer({ '': 'NOT_SERVING', 'shop.Cart': 'SERVING', 'shop.Stock': 'UNKNOWN' });
    await expect(grpcProbe('127.0.0.1', port, 'shop.Cart', 1000)).resolves.toEqual({ result: 'Success', output: 'service healthy' });
    await expect(grpcProbe('127.0.0.1', port, 'shop.Stock', 1000)).resolves.toEqual({ result: 'Failure', output: 'service unhealthy (responded with "UNKNOWN")' });
  });

  test('an unknown service (NOT_FOUND) is Failure', async () => {
    const port = await grpcServer({ '': 'SERVING' });
    await expect(grpcProbe('127.0.0.1', port, 'nobody', 1000)).resolves.toEqual({
      result: 'Failure',
      output: 'error: health rpc probe failed: 5 NOT_FOUND: Health status unknown for service nobody',
    });
  });

  test('a server without the health service is Failure: it does not implement the protocol', async () => {
    const port = await grpcServer();
    await expect(grpcProbe('127.0.0.1', port, '', 1000)).resolves.toEqual({
      result: 'Failure',
      output: 'error: this server does not implement the grpc health protocol (grpc.health.v1.Health): The server does not implement the method /grpc.health.v1.Health/Check',
    });
  });

  test('nothing listening is Failure: failed to connect', async () => {
    const port = await closedPort();
    const run = await grpcProbe('127.0.0.1', port, '', 1000);
    expect(run.result).toBe('Failure');
    expect(run.output).toMatch(new RegExp(`^timeout: failed to connect service "127\\.0\\.0\\.1:${port}" within 1s: `));
  });
});

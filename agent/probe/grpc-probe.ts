/**
 * The grpc probe (pkg/probe/grpc): grpc.health.v1.Health/Check with the optional service name,
 * over plaintext, within timeoutSeconds; SERVING succeeds, anything else fails.
 */
import {
  credentials,
  makeClientConstructor,
  status as GrpcStatus,
  type CallOptions,
  type ChannelCredentials,
  type Client,
  type ServiceError,
} from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import type { ProbeRun } from './probe-run.js';

interface HealthCheckResponse {
  status: string;
}

/** The client of the standard health service, as makeClientConstructor builds it. */
interface HealthClient extends Client {
  Check(request: { service: string }, options: CallOptions, callback: (err: ServiceError | null, response?: HealthCheckResponse) => void): void;
}

const HealthClient = makeClientConstructor(healthService as never, 'grpc.health.v1.Health') as unknown as new (
  target: string,
  credentials: ChannelCredentials,
) => HealthClient;

export function grpcProbe(host: string, port: number, service: string, timeoutMs: number): Promise<ProbeRun> {
  const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const client = new HealthClient(target, credentials.createInsecure());
  const seconds = `${timeoutMs / 1000}s`;
  return new Promise<ProbeRun>((resolve) => {
    client.Check({ service }, { deadline: Date.now() + timeoutMs }, (err, response) => {
      if (err) {
        if (err.code === GrpcStatus.UNIMPLEMENTED) {
          resolve({ result: 'Failure', output: `error: this server does not implement the grpc health protocol (grpc.health.v1.Health): ${err.details}` });
        } else if (err.code === GrpcStatus.DEADLINE_EXCEEDED) {
          resolve({ result: 'Failure', output: `timeout: health rpc did not complete within ${seconds}` });
        } else if (err.code === GrpcStatus.UNAVAILABLE) {
          resolve({ result: 'Failure', output: `timeout: failed to connect service ${JSON.stringify(target)} within ${seconds}: ${err.details}` });
        } else {
          resolve({ result: 'Failure', output: `error: health rpc probe failed: ${err.message}` });
        }
        return;
      }
      const serving = response?.status ?? 'UNKNOWN';
      resolve(serving === 'SERVING' ? { result: 'Success', output: 'service healthy' } : { result: 'Failure', output: `service unhealthy (responded with "${serving}")` });
    });
  }).finally(() => client.close());
}

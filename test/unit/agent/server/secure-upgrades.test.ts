/**
 * The secure server's gate on the upgrade path, over real TLS sockets: refused upgrades never
 * reach the pod lookup, whatever the method or the spelling of the path; and closing the server
 * ends exec sessions and refused clients that keep their side of the connection open.
 */
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, type Duplex } from 'node:stream';
import { connect } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { buildServer } from '../../../../agent/server/app.js';
import { UnionAuthenticator, type RequestAuthenticator } from '../../../../agent/server/auth/authenticator.js';
import type { Authorizer } from '../../../../agent/server/auth/authorizer.js';
import { KubeletAuth } from '../../../../agent/server/auth/kubelet-auth.js';
import type { ContainerStreams, KubeletApi } from '../../../../agent/server/kubelet-api.js';
import { servingCert } from '../../../../agent/server/tls/serving-cert.js';
import type { AttachedProcess } from '../../../../agent/runtime/runtime.js';
import { memoryLogger } from '../../../helpers/memory-logger.js';
import { waitFor } from '../../../helpers/wait-for.js';

/** `Authorization: Bearer <user>` names the user; alice may do anything, bob nothing. */
const byName: RequestAuthenticator = {
  authenticate: async (request: IncomingMessage) => {
    const name = /^Bearer (\w+)$/.exec(request.headers.authorization ?? '')?.[1];
    return name ? { user: { name, groups: [] } } : undefined;
  },
};
const aliceOnly: Authorizer = { authorize: async ({ user }) => (user.name === 'alice' ? { allowed: true } : { allowed: false, reason: 'not alice' }) };

/** A process that runs until it is detached. */
function longProcess(): AttachedProcess {
  const stdout = new PassThrough();
  let settle: (value: { exitCode?: number }) => void = () => undefined;
  return {
    stdin: undefined,
    stdout,
    stderr: undefined,
    resize: async () => undefined,
    exited: new Promise((resolve) => (settle = resolve)),
    detach: () => {
      stdout.end();
      settle({});
    },
  };
}

/** --streaming-connection-idle-timeout, short so that a test sees it pass. */
const IdleTimeoutMs = 1_000;

let dir: string;
let app: FastifyInstance;
let port: number;
const lookups: string[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dockerlet-upgrades-'));
  const log = memoryLogger().logger;
  const cert = await servingCert({ rootDir: dir, hostname: 'node-1', addresses: ['127.0.0.1'], logger: log });
  const api = {
    containerStreams: async (target: { pod: string }): Promise<ContainerStreams> => {
      lookups.push(`container ${target.pod}`);
      return { tty: false, exec: async () => longProcess(), attach: async () => longProcess() };
    },
    podPorts: async (target: { pod: string }) => {
      lookups.push(`ports ${target.pod}`);
      return { uid: 'u', connect: async (): Promise<Duplex> => Readable.from([]) as unknown as Duplex };
    },
  } as unknown as KubeletApi;
  const auth = new KubeletAuth({ authenticator: new UnionAuthenticator([byName], { anonymous: false }), authorizer: aliceOnly, nodeName: 'node-1', logger: log });
  app = buildServer({ kind: 'secure', api, logger: log, https: { cert: cert.cert, key: cert.key }, auth, configz: () => ({}), streamingIdleTimeoutMs: IdleTimeoutMs });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as AddressInfo).port;
  lookups.length = 0;
});

afterEach(async () => {
  await app.close();
  await rm(dir, { recursive: true, force: true });
});

/** Sends `request` over TLS and resolves with the status line of the answer; the socket stays open. */
async function rawUpgrade(request: string): Promise<{ status: string; socket: ReturnType<typeof connect> }> {
  const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  await once(socket, 'secureConnect');
  socket.write(request);
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  await waitFor('an answer', () => received.includes('\r\n'));
  return { status: received.split('\r\n')[0]!, socket };
}

const spdyUpgrade = (method: string, target: string, user?: string): string =>
  [
    `${method} ${target} HTTP/1.1`,
    'Host: node-1',
    'Connection: Upgrade',
    'Upgrade: SPDY/3.1',
    'X-Stream-Protocol-Version: v4.channel.k8s.io',
    ...(user ? [`Authorization: Bearer ${user}`] : []),
    '',
    '',
  ].join('\r\n');

describe('the gate on upgrades', () => {
  test.each([
    ['no credentials', spdyUpgrade('POST', '/exec/default/web/app?command=sh&output=1'), 'HTTP/1.1 401 Unauthorized'],
    ['a user the authorizer denies', spdyUpgrade('POST', '/exec/default/web/app?command=sh&output=1', 'bob'), 'HTTP/1.1 403 Forbidden'],
    ['a method the kubelet does not route', spdyUpgrade('PUT', '/exec/default/web/app?command=sh&output=1', 'alice'), 'HTTP/1.1 405 Method Not Allowed'],
    ['a dot segment', spdyUpgrade('POST', '/stats/../exec/default/web/app?command=sh&output=1', 'alice'), 'HTTP/1.1 400 Bad Request'],
    ['an empty segment', spdyUpgrade('POST', '//exec/default/web/app?command=sh&output=1', 'alice'), 'HTTP/1.1 400 Bad Request'],
    ['a path parameter', spdyUpgrade('POST', '/exec/default/web/app;x?command=sh&output=1', 'alice'), 'HTTP/1.1 400 Bad Request'],
    ['an encoded dot', spdyUpgrade('POST', '/stats/%2e%2e/exec/default/web/app?command=sh&output=1', 'alice'), 'HTTP/1.1 400 Bad Request'],
    ['no streams asked for', spdyUpgrade('POST', '/exec/default/web/app?command=sh', 'alice'), 'HTTP/1.1 400 Bad Request'],
  ])('%s: refused before any pod lookup', async (_case, request, status) => {
    const { status: answer, socket } = await rawUpgrade(request);
    socket.destroy();
    expect(answer).toBe(status);
    expect(lookups).toEqual([]);
  });

  test('a WebSocket upgrade without credentials or by a denied user never reaches the pod; alice reaches it', async () => {
    const open = (user?: string) =>
      new Promise<number | 'open'>((resolve) => {
        const socket = new WebSocket(`wss://127.0.0.1:${port}/portForward/default/web?port=80`, ['v4.channel.k8s.io'], {
          rejectUnauthorized: false,
          headers: user ? { Authorization: `Bearer ${user}` } : {},
        });
        socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
        socket.on('open', () => {
          socket.close();
          resolve('open');
        });
      });
    expect(await open()).toBe(401);
    expect(await open('bob')).toBe(403);
    expect(lookups).toEqual([]);
    expect(await open('alice')).toBe('open');
    expect(lookups).toEqual(['ports web']);
  });
});

describe('the streaming idle timeout', () => {
  test('a session silent for --streaming-connection-idle-timeout is closed', async () => {
    const session = new WebSocket(`wss://127.0.0.1:${port}/exec/default/web/app?command=sh&output=1`, ['v4.channel.k8s.io'], {
      rejectUnauthorized: false,
      headers: { Authorization: 'Bearer alice' },
    });
    await once(session, 'open');
    const opened = performance.now();
    await once(session, 'close');
    expect(performance.now() - opened).toBeGreaterThanOrEqual(IdleTimeoutMs - 50);
  });
});

describe('closing the server', () => {
  test('ends an exec session in progress and a refused client that keeps its connection open', async () => {
    const refused = await rawUpgrade(spdyUpgrade('POST', '/exec/default/web/app?command=sh&output=1'));
    expect(refused.status).toBe('HTTP/1.1 401 Unauthorized');
    const session = new WebSocket(`wss://127.0.0.1:${port}/exec/default/web/app?command=sh&output=1`, ['v4.channel.k8s.io'], {
      rejectUnauthorized: false,
      headers: { Authorization: 'Bearer alice' },
    });
    await once(session, 'open');
    const sessionClosed = once(session, 'close');
    await app.close();
    await sessionClosed;
    refused.socket.destroy();
  });
});

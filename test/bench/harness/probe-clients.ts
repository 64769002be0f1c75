/**
 * The httpGet probe clients the probe-client benchmark compares, and what it needs to measure
 * them: a server in a process of its own (so that only the client's CPU is counted), a probe
 * paced like 100 pods probed each second, and a probe loop flat out. One probe is one GET with
 * `Connection: close` on a new connection, its headers built as the kubelet builds them, with a
 * timeout timer, as each client must do for a real probe.
 *
 * Only the kept client lives in agent/probe; the others are here so that the comparison can be
 * run again: node:http as dockerlet used it before (one request with `agent: false`), node:http
 * through a shared Agent and http.get, and undici when a copy of it is at hand (it is not a
 * dependency: DOCKERLET_BENCH_UNDICI names the directory of an installed undici package, as
 * `npm install --prefix DIR undici` leaves it in DIR/node_modules/undici).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { Agent, get as httpGet, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { pathToFileURL } from 'node:url';
import { doHttpGet, type HttpGetAction } from '../../../agent/probe/http-get.js';
import { delay } from '../../../common/util/clock.js';
import { selfSignedCertificate } from '../../helpers/pki.js';

/** One probe of 127.0.0.1:port; resolves with the status code. */
export type ProbeClient = (action: HttpGetAction) => Promise<number>;

export interface Candidate {
  name: string;
  probe: ProbeClient;
}

const TimeoutMs = 1000;
const MaxBody = 10 * 1024;

/** The headers every candidate sends: what the kubelet's probe sends. */
function kubeletHeaders(action: HttpGetAction): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const { name, value } of action.headers) headers[name] = value;
  headers['User-Agent'] ??= 'kube-probe/1.32';
  headers['Accept'] ??= '*/*';
  headers['Connection'] = 'close';
  return headers;
}

const urlOf = (action: HttpGetAction): URL => new URL(`${action.scheme.toLowerCase()}://${action.host}:${action.port}${action.path}`);

/** Reads at most 10 KiB of a node:http response, then destroys it. */
function readResponse(res: IncomingMessage, resolve: (status: number) => void, reject: (err: Error) => void): void {
  let size = 0;
  const done = (): void => {
    res.destroy();
    resolve(res.statusCode ?? 0);
  };
  res.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size >= MaxBody) done();
  });
  res.on('end', done);
  res.on('error', reject);
}

/** node:http as dockerlet used it before: `agent: false`, an AbortController and its timer per probe. */
export const nodeHttpAgentFalse: ProbeClient = (action) => {
  const url = urlOf(action);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TimeoutMs);
  return new Promise<number>((resolve, reject) => {
    const req = request(url, { method: 'GET', headers: kubeletHeaders(action), agent: false, rejectUnauthorized: false, signal: controller.signal }, (res) =>
      readResponse(res, resolve, reject),
    );
    req.on('error', reject);
    req.end();
  }).finally(() => clearTimeout(timer));
};

const sharedAgent = new Agent({ keepAlive: false, maxSockets: Infinity });

/** node:http through one Agent for every probe (no keep-alive): the socket bookkeeping shared. */
export const nodeHttpSharedAgent: ProbeClient = (action) => {
  let req: ReturnType<typeof httpRequest> | undefined;
  const timer = setTimeout(() => req?.destroy(new Error('timeout')), TimeoutMs);
  const options: RequestOptions = { host: action.host, port: action.port, path: action.path, headers: kubeletHeaders(action), agent: sharedAgent };
  return new Promise<number>((resolve, reject) => {
    req = httpRequest(options, (res) => readResponse(res, resolve, reject));
    req.on('error', reject);
    req.end();
  }).finally(() => clearTimeout(timer));
};

/** http.get with `agent: false` and a plain timer (no AbortController). */
export const nodeHttpGet: ProbeClient = (action) => {
  let req: ReturnType<typeof httpGet> | undefined;
  const timer = setTimeout(() => req?.destroy(new Error('timeout')), TimeoutMs);
  return new Promise<number>((resolve, reject) => {
    req = httpGet({ host: action.host, port: action.port, path: action.path, headers: kubeletHeaders(action), agent: false }, (res) => readResponse(res, resolve, reject));
    req.on('error', reject);
  }).finally(() => clearTimeout(timer));
};

/** The kept client: agent/probe's doHttpGet (a minimal HTTP/1.1 client on net.connect). */
export const netConnectClient: ProbeClient = async (action) => (await doHttpGet(action, { purpose: 'probe', timeoutMs: TimeoutMs })).statusCode;

/** The floor any client pays: a TCP (or TLS) connection opened and closed, nothing sent. */
export const connectOnly: ProbeClient = (action) =>
  new Promise<number>((resolve, reject) => {
    const secure = action.scheme === 'HTTPS';
    const socket = secure ? tlsConnect({ host: action.host, port: action.port, rejectUnauthorized: false }) : netConnect({ host: action.host, port: action.port });
    const timer = setTimeout(() => socket.destroy(new Error('timeout')), TimeoutMs);
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(0);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });

/** The part of undici the candidates use. */
interface Undici {
  Agent: new (options: { pipelining: number }) => object;
  Client: new (origin: string, options: { pipelining: number }) => { request(options: object): Promise<UndiciResponse>; destroy(): Promise<void> };
  request(url: string, options: object): Promise<UndiciResponse>;
}
interface UndiciResponse {
  statusCode: number;
  body: { text(): Promise<string> };
}

/** undici's request and Client, when DOCKERLET_BENCH_UNDICI names an installed undici; else why not. */
export async function undiciCandidates(): Promise<{ candidates: Candidate[]; version: string } | { reason: string }> {
  const dir = process.env['DOCKERLET_BENCH_UNDICI'];
  if (!dir) return { reason: 'undici not measured: DOCKERLET_BENCH_UNDICI does not name an installed undici package (it is not a dependency)' };
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string; main?: string };
  const undici = (await import(pathToFileURL(join(dir, manifest.main ?? 'index.js')).href)) as Undici;
  const dispatcher = new undici.Agent({ pipelining: 0 });
  const headersOf = (action: HttpGetAction): Record<string, string> => kubeletHeaders(action);
  return {
    version: manifest.version,
    candidates: [
      {
        name: `undici ${manifest.version} request`,
        probe: async (action) => {
          const response = await undici.request(urlOf(action).href, { headers: headersOf(action), dispatcher, headersTimeout: TimeoutMs, bodyTimeout: TimeoutMs });
          await response.body.text();
          return response.statusCode;
        },
      },
      {
        name: `undici ${manifest.version} Client`,
        probe: async (action) => {
          const client = new undici.Client(urlOf(action).origin, { pipelining: 0 });
          try {
            const response = await client.request({ path: action.path, method: 'GET', headers: headersOf(action), headersTimeout: TimeoutMs, bodyTimeout: TimeoutMs });
            await response.body.text();
            return response.statusCode;
          } finally {
            void client.destroy();
          }
        },
      },
    ],
  };
}

/**
 * The probed server: plain TCP and TLS listeners on 127.0.0.1 that read a request head, answer
 * 200 "ok" with Connection: close and close. A process of its own, so that its CPU is not the
 * client's; raw sockets, so that it is never what limits the rate.
 */
const ServerScript = String.raw`
const net = require('node:net');
const tls = require('node:tls');
const response = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
const answer = (socket) => {
  let head = '';
  socket.on('error', () => {});
  socket.on('data', (chunk) => {
    head += chunk.toString('latin1');
    if (head.includes('\r\n\r\n')) socket.end(response);
  });
};
const plain = net.createServer(answer);
const secure = tls.createServer({ key: process.env.KEY, cert: process.env.CERT }, answer);
plain.listen(0, '127.0.0.1', () => secure.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ http: plain.address().port, https: secure.address().port }) + '\n');
}));
`;

export interface ProbedServer {
  httpPort: number;
  httpsPort: number;
  stop(): Promise<void>;
}

export async function startProbedServer(): Promise<ProbedServer> {
  const { key, cert } = selfSignedCertificate();
  const child: ChildProcess = spawn(process.execPath, ['-e', ServerScript], { env: { ...process.env, KEY: key.toString(), CERT: cert.toString() }, stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await Promise.race([
    once(child.stdout!, 'data') as Promise<[Buffer]>,
    once(child, 'exit').then(() => {
      throw new Error('the probed server exited before it listened');
    }),
  ])) as [Buffer];
  const ports = JSON.parse(line.toString('utf8')) as { http: number; https: number };
  return {
    httpPort: ports.http,
    httpsPort: ports.https,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill();
      await once(child, 'exit');
    },
  };
}

export interface Measured {
  /** User + system CPU of this process per probe, µs. */
  cpuMicros: number;
  /** Probes per second of wall time. */
  rate: number;
  failures: number;
  /** The first failure's message, if any. */
  failure?: string;
}

const cpuMicros = (since: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(since);
  return used.user + used.system;
};

/** `count` probes started `perSecond` a second, each on its own as independent pods' probes are. */
export async function paced(probe: ProbeClient, action: HttpGetAction, count: number, perSecond: number): Promise<Measured> {
  const interval = 1000 / perSecond;
  const pending: Array<Promise<void>> = [];
  let failures = 0;
  let failure: string | undefined;
  const started = performance.now();
  const cpu = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    const wait = started + i * interval - performance.now();
    if (wait >= 1) await delay(wait, undefined, true);
    pending.push(
      probe(action).then(
        () => undefined,
        (err: unknown) => {
          failures += 1;
          failure ??= String(err);
        },
      ),
    );
  }
  await Promise.all(pending);
  const micros = cpuMicros(cpu);
  return { cpuMicros: micros / count, rate: count / ((performance.now() - started) / 1000), failures, ...(failure !== undefined ? { failure } : {}) };
}

/** `count` probes, `concurrency` at a time, as fast as they go. */
export async function flatOut(probe: ProbeClient, action: HttpGetAction, count: number, concurrency: number): Promise<Measured> {
  let next = 0;
  let failures = 0;
  let failure: string | undefined;
  const started = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next += 1;
        try {
          await probe(action);
        } catch (err) {
          failures += 1;
          failure ??= String(err);
        }
      }
    }),
  );
  const micros = cpuMicros(cpu);
  return { cpuMicros: micros / count, rate: count / ((performance.now() - started) / 1000), failures, ...(failure !== undefined ? { failure } : {}) };
}

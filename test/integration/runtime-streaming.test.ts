/** The runtime's streaming calls (exec, attach, port-forward) on the real engine, through DockerRuntime itself. */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import type { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { DockerRuntime } from '../../agent/runtime/docker/docker-runtime.js';
import type { ContainerConfig, StreamSelection } from '../../agent/runtime/runtime.js';
import { BusyboxImage, PauseImage, docker, removeNodeContainers } from '../helpers/docker.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { containerConfig } from '../helpers/runtime-fixtures.js';
import { freePort, uniqueNodeName } from '../helpers/test-node.js';
import { waitFor } from '../helpers/wait-for.js';

const nodeName = uniqueNodeName('streaming');
const runtime = new DockerRuntime({
  socketPath: '/var/run/docker.sock',
  nodeName,
  // The pod network every test agent shares (the CLI's defaults).
  networkName: 'dockerlet',
  network: { name: 'dockerlet', subnet: '10.244.0.0/16', bridgeName: 'dockerlet0', masquerade: true },
  podInfraImage: PauseImage,
  logMaxSize: '1Mi',
  logMaxFiles: 1,
  requestTimeoutMs: 30_000,
  pullProgressDeadlineMs: 60_000,
  logger: memoryLogger().logger,
});

beforeAll(async () => {
  await runtime.start();
});
// Every container here carries this file's node label: removing them by it leaves the others'.
afterEach(() => removeNodeContainers(nodeName));
afterAll(() => removeNodeContainers(nodeName));

type ContainerSpec = Required<Pick<ContainerConfig, 'command'>> & Partial<Pick<ContainerConfig, 'stdin' | 'stdinOnce' | 'tty'>>;

/** A pod sandbox with one container `main` made from `spec`, started unless `start` is false. */
async function startPod(spec: ContainerSpec, start = true): Promise<{ sandboxId: string; containerId: string }> {
  const uid = randomUUID();
  const sandboxId = await runtime.runPodSandbox({
    pod: { uid, name: `streaming-${uid.slice(0, 8)}`, namespace: 'default' },
    attempt: 0,
    seccomp: { type: 'Unconfined' },
    sysctls: {},
    hostname: 'streaming',
    hostNetwork: false,
    hostIPC: false,
    hostPID: false,
    portMappings: [],
    labels: {},
  });
  const containerId = await runtime.createContainer(sandboxId, containerConfig(BusyboxImage, spec));
  if (start) await runtime.startContainer(containerId);
  return { sandboxId, containerId };
}

const sleeper: ContainerSpec = { command: ['sleep', '3600'] };
const allStreams: StreamSelection = { stdin: true, stdout: true, stderr: true, tty: false };

function collect(stream: Readable | undefined): Promise<string> {
  if (!stream) throw new Error('the stream was not selected');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.on('error', reject);
  });
}

/** What a stream has shown so far, read as it comes. */
function transcript(stream: Readable | undefined): { text(): string; waitFor(text: string): Promise<unknown> } {
  if (!stream) throw new Error('the stream was not selected');
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  return { text: () => text, waitFor: (wanted) => waitFor(`${JSON.stringify(wanted)} in ${JSON.stringify(text)}`, () => text.includes(wanted)) };
}

describe('exec', () => {
  test('stdout and stderr come apart, and the exit code once the output ended', async () => {
    const { containerId } = await startPod(sleeper);
    const attached = await runtime.exec(containerId, ['sh', '-c', 'echo to-out; echo to-err >&2'], { ...allStreams, stdin: false });
    expect(attached.stdin).toBeUndefined();
    const [stdout, stderr, exited] = await Promise.all([collect(attached.stdout), collect(attached.stderr), attached.exited]);
    expect({ stdout, stderr, exited }).toEqual({ stdout: 'to-out\n', stderr: 'to-err\n', exited: { exitCode: 0 } });
  });

  test('a command that fails reports its exit code', async () => {
    const { containerId } = await startPod(sleeper);
    const attached = await runtime.exec(containerId, ['sh', '-c', 'exit 3'], { stdin: false, stdout: true, stderr: false, tty: false });
    await collect(attached.stdout);
    expect(await attached.exited).toEqual({ exitCode: 3 });
  });

  test("stdin's end reaches the command as EOF", async () => {
    const { containerId } = await startPod(sleeper);
    const attached = await runtime.exec(containerId, ['cat'], allStreams);
    const output = Promise.all([collect(attached.stdout), collect(attached.stderr)]);
    attached.stdin!.write('line 1\n');
    attached.stdin!.end('line 2\n');
    expect(await output).toEqual(['line 1\nline 2\n', '']);
    expect(await attached.exited).toEqual({ exitCode: 0 });
  });

  test('with a TTY everything comes on stdout, and resizing changes the terminal the command sees', async () => {
    const { containerId } = await startPod(sleeper);
    const script = 'read a; stty size; read b; stty size; echo to-err >&2; exit 4';
    const attached = await runtime.exec(containerId, ['sh', '-c', script], { stdin: true, stdout: true, stderr: true, tty: true });
    expect(attached.stderr).toBeUndefined();
    const screen = transcript(attached.stdout);
    await attached.resize({ width: 80, height: 24 });
    attached.stdin!.write('a\n');
    await screen.waitFor('24 80');
    await attached.resize({ width: 132, height: 40 });
    attached.stdin!.write('b\n');
    await screen.waitFor('40 132');
    expect(await attached.exited).toEqual({ exitCode: 4 });
    expect(screen.text()).toContain('to-err');
    // The process has ended: there is no terminal left, and that is no error.
    await expect(attached.resize({ width: 10, height: 10 })).resolves.toBeUndefined();
  });

  test("with a TTY, stdin's end detaches (Docker's way): the command goes on running, with no exit code", async () => {
    const { containerId } = await startPod(sleeper);
    const attached = await runtime.exec(containerId, ['cat'], { stdin: true, stdout: true, stderr: false, tty: true });
    const screen = collect(attached.stdout);
    attached.stdin!.end();
    await screen;
    expect(await attached.exited).toEqual({});
    expect((await runtime.execSync(containerId, ['ps', '-o', 'args'], { maxOutputBytes: 65536 })).output).toMatch(/^cat$/m);
  });

  test('detach ends the connection at once; the command goes on running', async () => {
    const { containerId } = await startPod(sleeper);
    const attached = await runtime.exec(containerId, ['sh', '-c', 'echo started; exec sleep 3600'], { stdin: true, stdout: true, stderr: true, tty: false });
    await transcript(attached.stdout).waitFor('started');
    attached.detach();
    expect(await attached.exited).toEqual({});
    const listing = await runtime.execSync(containerId, ['ps'], { maxOutputBytes: 65536 });
    expect(listing.output).toContain('sleep 3600');
  });

  test('in a container that is not running it fails, naming the container', async () => {
    const { containerId } = await startPod(sleeper, false);
    const failure = runtime.exec(containerId, ['true'], allStreams);
    await expect(failure).rejects.toMatchObject({ code: 'DKL_ERR_RUNTIME', message: expect.stringContaining('is not running') });
    await expect(failure).rejects.toThrow(`exec in container ${containerId.slice(0, 12)}`);
  });

  test('in a container that is gone it fails as not found', async () => {
    const { containerId } = await startPod(sleeper);
    await runtime.removeContainer(containerId);
    await expect(runtime.exec(containerId, ['true'], allStreams)).rejects.toMatchObject({ code: 'DKL_ERR_NOT_FOUND' });
  });
});

describe('attach', () => {
  test('to a container with stdin and a TTY: a line typed reaches it, and its exit code comes back', async () => {
    const { containerId } = await startPod({ command: ['sh', '-c', 'read line; echo "got $line"; exit 5'], stdin: true, stdinOnce: true, tty: true });
    const attached = await runtime.attach(containerId, { stdin: true, stdout: true, stderr: true, tty: true });
    expect(attached.stderr).toBeUndefined();
    const screen = transcript(attached.stdout);
    attached.stdin!.write('typed\n');
    await screen.waitFor('got typed');
    expect(await attached.exited).toEqual({ exitCode: 5 });
  });

  test('without a TTY stdout and stderr come apart; detach leaves the container running', async () => {
    const command = ['sh', '-c', 'while read line; do echo "out $line"; echo "err $line" >&2; done'];
    const { containerId } = await startPod({ command, stdin: true });
    const attached = await runtime.attach(containerId, allStreams);
    const [stdout, stderr] = [transcript(attached.stdout), transcript(attached.stderr)];
    attached.stdin!.write('one\n');
    await Promise.all([stdout.waitFor('out one\n'), stderr.waitFor('err one\n')]);
    expect([stdout.text(), stderr.text()]).toEqual(['out one\n', 'err one\n']);
    attached.detach();
    expect(await attached.exited).toEqual({});
    expect((await docker.getContainer(containerId).inspect()).State.Running).toBe(true);
  });

  test("with stdinOnce, stdin's end reaches the container as EOF", async () => {
    const { containerId } = await startPod({ command: ['cat'], stdin: true, stdinOnce: true });
    const attached = await runtime.attach(containerId, { stdin: true, stdout: true, stderr: false, tty: false });
    const stdout = collect(attached.stdout);
    attached.stdin!.end('last words\n');
    expect(await stdout).toBe('last words\n');
    expect(await attached.exited).toEqual({ exitCode: 0 });
  });

  test('stdin to a container created without it is refused', async () => {
    const { containerId } = await startPod(sleeper);
    await expect(runtime.attach(containerId, allStreams)).rejects.toMatchObject({ code: 'DKL_ERR_BAD_REQUEST', message: expect.stringContaining('stdin') });
  });

  test('to a container that is not running it fails, naming the container', async () => {
    const { containerId } = await startPod(sleeper, false);
    await expect(runtime.attach(containerId, allStreams)).rejects.toMatchObject({
      code: 'DKL_ERR_RUNTIME',
      message: `attach to container ${containerId.slice(0, 12)}: the container is not running (created)`,
    });
  });
});

describe('portForward', () => {
  /** A server on the host's own 127.0.0.1:`port` that answers `from-host`: what a forward must never reach. */
  async function hostDecoy(port: number): Promise<Server> {
    const server = createServer((socket) => socket.end('from-host\n'));
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return server;
  }

  let decoy: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => (decoy ? decoy.close(resolve) : resolve(undefined)));
    decoy = undefined;
  });

  /** One HTTP/1.0 request through a forward to `port`; rejects when the forward fails. */
  async function fetchThrough(sandboxId: string, port: number): Promise<string> {
    const connection = await runtime.portForward(sandboxId, port);
    const response = collect(connection);
    connection.write('GET / HTTP/1.0\r\n\r\n');
    return response;
  }

  test("reaches a server listening on the pod's own localhost, not the host's", async () => {
    const port = await freePort();
    decoy = await hostDecoy(port);
    const serve = `mkdir -p /tmp/www && echo from-pod > /tmp/www/index.html && exec httpd -f -p 127.0.0.1:${port} -h /tmp/www`;
    const { sandboxId } = await startPod({ command: ['sh', '-c', serve] });
    const response = await waitFor('the pod server to answer through the forward', () => fetchThrough(sandboxId, port));
    expect(response).toMatch(/^HTTP\/1\.[01] 200 OK/);
    expect(response).toContain('from-pod');
  });

  test('carries bytes both ways while open; destroying it closes the connection in the pod', async () => {
    const port = await freePort();
    const echo = `nc -l -p ${port} -e cat; echo closed > /tmp/closed; exec sleep 3600`;
    const { sandboxId, containerId } = await startPod({ command: ['sh', '-c', echo] });
    const run = async (command: string[]): Promise<string> => (await runtime.execSync(containerId, command, { maxOutputBytes: 65536 })).output;
    await waitFor('the echo server to listen', async () => (await run(['netstat', '-ltn'])).includes(`:${port} `));
    const connection = await runtime.portForward(sandboxId, port);
    const echoed = transcript(connection);
    connection.write('ping\n');
    await echoed.waitFor('ping\n');
    connection.destroy();
    await waitFor('the pod to see the connection closed', async () => (await run(['cat', '/tmp/closed'])) === 'closed\n');
  });

  test('to a port nobody listens on in the pod, the connection fails with what socat said', async () => {
    const port = await freePort();
    decoy = await hostDecoy(port);
    const { sandboxId } = await startPod(sleeper);
    await expect(fetchThrough(sandboxId, port)).rejects.toMatchObject({
      code: 'DKL_ERR_RUNTIME',
      message: expect.stringMatching(new RegExp(`^port forward to port ${port} of pod sandbox ${sandboxId.slice(0, 12)}: socat failed \\(exit code 1\\): .*Connection refused`)),
    });
  });

  test('to a sandbox that is not running it fails before starting anything', async () => {
    const { sandboxId } = await startPod(sleeper);
    await runtime.stopPodSandbox(sandboxId);
    await expect(runtime.portForward(sandboxId, 80)).rejects.toMatchObject({ code: 'DKL_ERR_RUNTIME', message: expect.stringContaining('the container is not running') });
  });
});

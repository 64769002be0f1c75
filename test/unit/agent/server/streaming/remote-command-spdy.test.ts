import { afterEach, describe, expect, test } from 'vitest';
import type { StreamSelection } from '../../../../../agent/runtime/runtime.js';
import { remoteCommandOptions, serveRemoteCommand, type RemoteCommandOptions } from '../../../../../agent/server/streaming/remote-command.js';
import { memoryLogger } from '../../../../helpers/memory-logger.js';
import { waitFor } from '../../../../helpers/wait-for.js';
import { closeAll, FakeProcess, GoLikeSpdyClient, rawUpgrade, upgradeServer, type ClientStream } from './harness.js';

afterEach(closeAll);

interface Session {
  port: number;
  processes: FakeProcess[];
  started: StreamSelection[];
  done: Array<Promise<void>>;
}

/** A server that serves exec with the query's streams and FakeProcesses (or `start` when given). */
async function execServer(overrides: Partial<RemoteCommandOptions> = {}): Promise<Session> {
  const session: Session = { port: 0, processes: [], started: [], done: [] };
  session.port = await upgradeServer((req, socket, head) => {
    const { streams } = remoteCommandOptions(new URL(req.url!, 'http://x').searchParams);
    const served = serveRemoteCommand(req, socket, head, {
      operation: 'exec',
      streams,
      logger: memoryLogger().logger,
      start: async (selection) => {
        session.started.push(selection);
        const process = new FakeProcess(selection);
        session.processes.push(process);
        return process;
      },
      ...overrides,
    });
    session.done.push(served);
  });
  return session;
}

/** Opens the streams client-go opens for these options, error stream first. */
async function openStreams(client: GoLikeSpdyClient, types: string[]) {
  const streams = new Map<string, ClientStream>();
  for (const type of ['error', ...types]) streams.set(type, await client.openStream({ streamType: type }));
  return streams;
}

describe('remotecommand over SPDY', () => {
  test('v4: stdin reaches the process, its stdout and stderr come back apart, exit 0 is Success', async () => {
    const session = await execServer();
    const client = await GoLikeSpdyClient.connect(session.port, '/exec?input=1&output=1&error=1&command=sh', ['v4.channel.k8s.io', 'v3.channel.k8s.io']);
    expect(client.answer.headers['x-stream-protocol-version']).toBe('v4.channel.k8s.io');
    expect(client.answer.headers.upgrade).toBe('SPDY/3.1');
    const streams = await openStreams(client, ['stdin', 'stdout', 'stderr']);
    const process = await waitFor('the process', () => session.processes[0]);
    expect(session.started).toEqual([{ stdin: true, stdout: true, stderr: true, tty: false }]);

    const stdout = streams.get('stdout')!.received;
    const stderr = streams.get('stderr')!.received;
    const status = streams.get('error')!.received;
    streams.get('stdin')!.stream.write('hello\n');
    await waitFor('the echo', () => process.stdin!.readableLength === 0 && process.stdout!.readableLength === 0);
    process.stderr!.write('oops\n');
    streams.get('stdin')!.stream.end();
    await waitFor('stdin to end', () => process.stdin!.readableEnded);
    process.exit(0);

    expect((await stdout).toString()).toBe('hello\n');
    expect((await stderr).toString()).toBe('oops\n');
    expect(JSON.parse((await status).toString())).toEqual({ metadata: {}, status: 'Success' });
    await Promise.all(session.done);
  });

  test('v4: a non-zero exit is a NonZeroExitCode status carrying the code', async () => {
    const session = await execServer();
    const client = await GoLikeSpdyClient.connect(session.port, '/exec?output=1', ['v4.channel.k8s.io']);
    const streams = await openStreams(client, ['stdout']);
    const status = streams.get('error')!.received;
    (await waitFor('the process', () => session.processes[0])).exit(3);
    expect(JSON.parse((await status).toString())).toEqual({
      metadata: {},
      status: 'Failure',
      message: 'command terminated with non-zero exit code: Error executing in Docker Container: 3',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '3' }] },
    });
  });

  test('an error from start() is an InternalError status with its message', async () => {
    const session = await execServer({ start: async () => Promise.reject(new Error('container not running (abc)')) });
    const client = await GoLikeSpdyClient.connect(session.port, '/exec?output=1', ['v4.channel.k8s.io']);
    const streams = await openStreams(client, ['stdout']);
    expect(JSON.parse((await streams.get('error')!.received).toString())).toEqual({
      metadata: {},
      status: 'Failure',
      message: 'Internal error occurred: error executing command in container: container not running (abc)',
      reason: 'InternalError',
      details: { causes: [{ message: 'error executing command in container: container not running (abc)' }] },
      code: 500,
    });
  });

  test('v3: a failure is written as its message alone, and success writes nothing', async () => {
    const session = await execServer();
    const failing = await GoLikeSpdyClient.connect(session.port, '/exec?output=1', ['v3.channel.k8s.io']);
    const failingStreams = await openStreams(failing, ['stdout']);
    (await waitFor('the first process', () => session.processes[0])).exit(2);
    expect((await failingStreams.get('error')!.received).toString()).toBe('command terminated with non-zero exit code: Error executing in Docker Container: 2');

    const succeeding = await GoLikeSpdyClient.connect(session.port, '/exec?output=1', ['v3.channel.k8s.io']);
    const succeedingStreams = await openStreams(succeeding, ['stdout']);
    (await waitFor('the second process', () => session.processes[1])).exit(0);
    expect((await succeedingStreams.get('error')!.received).length).toBe(0);
  });

  test('attach reports Success whatever the exit code, as upstream ServeAttach does', async () => {
    const session = await execServer({ operation: 'attach' });
    const client = await GoLikeSpdyClient.connect(session.port, '/attach?output=1', ['v4.channel.k8s.io']);
    const streams = await openStreams(client, ['stdout']);
    (await waitFor('the process', () => session.processes[0])).exit(7);
    expect(JSON.parse((await streams.get('error')!.received).toString())).toEqual({ metadata: {}, status: 'Success' });
  });

  test('with a TTY, resizes reach the process and no stderr is attached', async () => {
    const session = await execServer();
    const client = await GoLikeSpdyClient.connect(session.port, '/exec?input=1&output=1&error=1&tty=1', ['v4.channel.k8s.io']);
    const streams = await openStreams(client, ['stdin', 'stdout', 'resize']);
    const process = await waitFor('the process', () => session.processes[0]);
    expect(session.started).toEqual([{ stdin: true, stdout: true, stderr: false, tty: true }]);
    const resize = streams.get('resize')!.stream;
    resize.write('{"Width":80,"Height":24}\n{"Width":1');
    resize.write('20,"Height":40}\n');
    await waitFor('two resizes', () => process.resizes.length === 2);
    expect(process.resizes).toEqual([{ width: 80, height: 24 }, { width: 120, height: 40 }]);
  });

  test('v2 has no resize stream: a TTY session starts without one', async () => {
    const session = await execServer();
    const client = await GoLikeSpdyClient.connect(session.port, '/exec?output=1&tty=1', ['v2.channel.k8s.io']);
    await openStreams(client, ['stdout']);
    await waitFor('the process', () => session.processes[0]);
  });

  test('more than a window of output reaches a client that never sends WINDOW_UPDATE', async () => {
    const session = await execServer();
    const client = await GoLikeSpdyClient.connect(session.port, '/exec?output=1', ['v4.channel.k8s.io']);
    const streams = await openStreams(client, ['stdout']);
    const process = await waitFor('the process', () => session.processes[0]);
    const stdout = streams.get('stdout')!.received;
    const big = Buffer.alloc(4 * 1024 * 1024, 'x');
    process.stdout!.write(big);
    process.exit(0);
    expect((await stdout).length).toBe(big.length);
  });

  test('a client that does not open its streams in time gets its connection closed', async () => {
    const session = await execServer({ streamCreationTimeoutMs: 100 });
    const client = await GoLikeSpdyClient.connect(session.port, '/exec?input=1&output=1', ['v4.channel.k8s.io']);
    await client.openStream({ streamType: 'error' });
    await waitFor('the session', () => session.done.length === 1);
    await Promise.all(session.done);
    await waitFor('the connection to close', () => client.answer.socket.destroyed || client.answer.socket.readableEnded);
    expect(session.started).toEqual([]);
  });

  test('a client that goes away detaches from the process', async () => {
    const session = await execServer();
    const client = await GoLikeSpdyClient.connect(session.port, '/exec?output=1', ['v4.channel.k8s.io']);
    await openStreams(client, ['stdout']);
    const process = await waitFor('the process', () => session.processes[0]);
    client.answer.socket.destroy();
    await waitFor('the detach', () => process.detached);
  });

  test('no shared version: 403 with the versions the server accepts, as httpstream.Handshake answers', async () => {
    const session = await execServer();
    const answer = await rawUpgrade(session.port, '/exec?output=1', { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'v9.channel.k8s.io' });
    expect(answer.status).toBe(403);
    expect(answer.headers['x-accepted-stream-protocol-versions']).toEqual(['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io']);
    expect(answer.body).toBe('unable to upgrade: unable to negotiate protocol: client supports [v9.channel.k8s.io], server accepts [v4.channel.k8s.io v3.channel.k8s.io v2.channel.k8s.io channel.k8s.io]\n');
  });

  test('no version header at all: 400', async () => {
    const session = await execServer();
    const answer = await rawUpgrade(session.port, '/exec?output=1', { Connection: 'Upgrade', Upgrade: 'SPDY/3.1' });
    expect(answer.status).toBe(400);
    expect(answer.body).toBe('unable to upgrade: X-Stream-Protocol-Version is required\n');
  });
});

describe('remoteCommandOptions', () => {
  const parse = (query: string) => remoteCommandOptions(new URLSearchParams(query));

  test('reads the streams as "1" flags under the names the API server gives them, and the repeated command in order', () => {
    expect(parse('input=1&output=1&command=sh&command=-c&command=exit 3')).toEqual({
      streams: { stdin: true, stdout: true, stderr: false, tty: false },
      command: ['sh', '-c', 'exit 3'],
    });
    expect(parse('output=true&error=1').streams).toEqual({ stdin: false, stdout: false, stderr: true, tty: false });
    // The names a client gives the API server are not the kubelet's.
    expect(() => parse('stdin=1&stdout=1&stderr=1')).toThrow('you must specify at least 1 of stdin, stdout, stderr');
  });

  test('a TTY drops stderr instead of refusing it', () => {
    expect(parse('output=1&error=1&tty=1').streams).toEqual({ stdin: false, stdout: true, stderr: false, tty: true });
  });

  test('no stream left is a bad request with upstream message', () => {
    expect(() => parse('tty=1&error=1')).toThrow('you must specify at least 1 of stdin, stdout, stderr');
  });
});

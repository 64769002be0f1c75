import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { remoteCommandOptions, serveRemoteCommand } from '../../../../../agent/server/streaming/remote-command.js';
import { memoryLogger } from '../../../../helpers/memory-logger.js';
import { waitFor } from '../../../../helpers/wait-for.js';
import { ChannelClient, closeAll, FakeProcess, upgradeServer } from './harness.js';

afterEach(closeAll);

async function execServer(): Promise<{ port: number; processes: FakeProcess[] }> {
  const processes: FakeProcess[] = [];
  const port = await upgradeServer((req, socket, head) => {
    const { streams } = remoteCommandOptions(new URL(req.url!, 'http://x').searchParams);
    void serveRemoteCommand(req, socket, head, {
      operation: 'exec',
      streams,
      logger: memoryLogger().logger,
      start: async (selection) => {
        const process = new FakeProcess(selection);
        processes.push(process);
        return process;
      },
    });
  });
  return { port, processes };
}

const exit3Json = {
  metadata: {},
  status: 'Failure',
  message: 'command terminated with non-zero exit code: Error executing in Docker Container: 3',
  reason: 'NonZeroExitCode',
  details: { causes: [{ reason: 'ExitCode', message: '3' }] },
};

describe.each([
  { protocol: '', json: false },
  { protocol: 'channel.k8s.io', json: false },
  { protocol: 'base64.channel.k8s.io', json: false },
  { protocol: 'v4.channel.k8s.io', json: true },
  { protocol: 'v4.base64.channel.k8s.io', json: true },
  { protocol: 'v5.channel.k8s.io', json: true },
])('remotecommand over WebSocket "$protocol"', ({ protocol, json }) => {
  test('an empty first message on stdout, stdin echoed, stderr apart, the exit status on channel 3, then a normal close', async () => {
    const { port, processes } = await execServer();
    const client = await ChannelClient.connect(port, '/exec?input=1&output=1&error=1', protocol === '' ? [] : [protocol]);
    expect(client.ws.protocol).toBe(protocol);
    await waitFor('the first message', () => client.messages.length > 0);
    expect(client.messages[0]).toEqual(Buffer.of(1));
    const process = await waitFor('the process', () => processes[0]);

    client.send(0, 'ping\n');
    await waitFor('the echo', () => client.channel(1).toString() === 'ping\n');
    process.stderr!.write('warn\n');
    await waitFor('stderr', () => client.channel(2).toString() === 'warn\n');
    process.exit(3);

    expect(await client.closed).toEqual({ code: 1000 });
    const status = client.channel(3).toString();
    if (json) expect(JSON.parse(status)).toEqual(exit3Json);
    else expect(status).toBe(exit3Json.message);
  });
});

describe('remotecommand over WebSocket', () => {
  test('success writes a JSON Success from v4 on', async () => {
    const { port, processes } = await execServer();
    const client = await ChannelClient.connect(port, '/exec?output=1', ['v4.channel.k8s.io']);
    (await waitFor('the process', () => processes[0])).exit(0);
    await client.closed;
    expect(JSON.parse(client.channel(3).toString())).toEqual({ metadata: {}, status: 'Success' });
  });

  test('v5: the CLOSE signal [255, 0] ends the process stdin', async () => {
    const { port, processes } = await execServer();
    const client = await ChannelClient.connect(port, '/exec?input=1&output=1', ['v5.channel.k8s.io']);
    const process = await waitFor('the process', () => processes[0]);
    client.send(0, 'last line\n');
    client.ws.send(Buffer.of(255, 0));
    await waitFor('stdin to end', () => process.stdin!.readableEnded);
    await waitFor('the echo', () => client.channel(1).toString() === 'last line\n');
  });

  test('v4 has no CLOSE signal: [255, 0] is dropped and stdin stays open', async () => {
    const { port, processes } = await execServer();
    const client = await ChannelClient.connect(port, '/exec?input=1&output=1', ['v4.channel.k8s.io']);
    const process = await waitFor('the process', () => processes[0]);
    client.ws.send(Buffer.of(255, 0));
    client.send(0, 'after\n');
    await waitFor('the echo', () => client.channel(1).toString() === 'after\n');
    expect(process.stdin!.readableEnded).toBe(false);
  });

  test('with a TTY, sizes on channel 4 reach the process', async () => {
    const { port, processes } = await execServer();
    const client = await ChannelClient.connect(port, '/exec?input=1&output=1&tty=1', ['v5.channel.k8s.io']);
    const process = await waitFor('the process', () => processes[0]);
    client.send(4, '{"Width":100,"Height":30}');
    await waitFor('the resize', () => process.resizes.length === 1);
    expect(process.resizes).toEqual([{ width: 100, height: 30 }]);
  });

  test('a session without output streams sends its first empty message on the error channel', async () => {
    const { port } = await execServer();
    const client = await ChannelClient.connect(port, '/exec?input=1', ['v4.channel.k8s.io']);
    await waitFor('the first message', () => client.messages.length > 0);
    expect(client.messages[0]).toEqual(Buffer.of(3));
  });

  test('a client that goes away detaches from the process', async () => {
    const { port, processes } = await execServer();
    const client = await ChannelClient.connect(port, '/exec?output=1', ['v5.channel.k8s.io']);
    const process = await waitFor('the process', () => processes[0]);
    client.ws.terminate();
    await waitFor('the detach', () => process.detached);
  });

  test('only unsupported subprotocols: refused with 403 before the upgrade, so that kubectl falls back to SPDY', async () => {
    const { port, processes } = await execServer();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/exec?output=1`, ['v6.channel.k8s.io', 'v5.base64.channel.k8s.io']);
    const [, response] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
    expect(response.statusCode).toBe(403);
    response.resume();
    ws.on('error', () => undefined);
    expect(processes).toEqual([]);
  });
});

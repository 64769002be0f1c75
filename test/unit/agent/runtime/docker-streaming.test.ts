/** How an exec's hijacked connection becomes an AttachedProcess, on a fake engine (the real one: test/integration/runtime-streaming.test.ts). */
import { Duplex } from 'node:stream';
import type Dockerode from 'dockerode';
import { describe, expect, test } from 'vitest';
import { dockerExec } from '../../../../agent/runtime/docker/streaming.js';
import type { StreamSelection } from '../../../../agent/runtime/runtime.js';
import { memoryLogger } from '../../../helpers/memory-logger.js';
import { dockerFrame } from '../../../helpers/runtime-fixtures.js';

/** An engine with one exec whose connection the test drives: it pushes output, and sees what is written. */
function fakeEngine(state = { running: false, exitCode: 0 as number | null }) {
  const written: string[] = [];
  const connection = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, done) {
      written.push(chunk.toString('utf8'));
      done();
    },
  });
  const exec = {
    start: async () => connection,
    inspect: async () => ({ Running: state.running, ExitCode: state.exitCode }),
    resize: async () => undefined,
  };
  const docker = { getContainer: () => ({ exec: async () => exec }) } as unknown as Dockerode;
  const deps = { docker, quick: () => new AbortController().signal, log: memoryLogger().logger };
  const start = (streams: StreamSelection) => dockerExec(deps, 'c0ffee', ['cmd'], streams);
  return { connection, written, start };
}

/** Lets every callback and promise already due run: what would happen at once has happened after it. */
async function turns(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

const framed: StreamSelection = { stdin: true, stdout: true, stderr: true, tty: false };

describe('an exec without a TTY', () => {
  test('frames cut anywhere come out whole, each on its own stream', async () => {
    const { connection, start } = fakeEngine();
    const attached = await start(framed);
    const all = Buffer.concat([dockerFrame(1, 'out 1\n'), dockerFrame(2, 'err\n'), dockerFrame(1, 'out 2\n')]);
    for (const [from, to] of [[0, 5], [5, 17], [17, all.length]] as const) connection.push(all.subarray(from, to));
    connection.push(null);
    const read = async (stream: AsyncIterable<Buffer>): Promise<string> => {
      let text = '';
      for await (const chunk of stream) text += chunk.toString('utf8');
      return text;
    };
    expect(await Promise.all([read(attached.stdout!), read(attached.stderr!)])).toEqual(['out 1\nout 2\n', 'err\n']);
  });

  test('an output nobody reads holds the connection back instead of piling up', async () => {
    const { connection, start } = fakeEngine();
    const attached = await start(framed);
    for (let i = 0; i < 100; i++) connection.push(dockerFrame(2, 'x'.repeat(1024)));
    await turns();
    expect(connection.isPaused()).toBe(true);
    attached.stderr!.resume();
    await turns();
    expect(connection.isPaused()).toBe(false);
  });

  test('an output that was not selected is dropped, and holds nothing back', async () => {
    const { connection, start } = fakeEngine({ running: false, exitCode: 2 });
    const attached = await start({ ...framed, stderr: false });
    for (let i = 0; i < 100; i++) connection.push(dockerFrame(2, 'x'.repeat(1024)));
    connection.push(dockerFrame(1, 'done\n'));
    connection.push(null);
    let stdout = '';
    for await (const chunk of attached.stdout!) stdout += (chunk as Buffer).toString('utf8');
    connection.destroy();
    expect([attached.stderr, stdout, await attached.exited]).toEqual([undefined, 'done\n', { exitCode: 2 }]);
  });

  test('the exit code waits for the output to be read to its end', async () => {
    const { connection, start } = fakeEngine({ running: false, exitCode: 0 });
    const attached = await start({ ...framed, stderr: false });
    connection.push(dockerFrame(1, 'last words\n'));
    connection.push(null);
    connection.destroy();
    let settled = false;
    void attached.exited.then(() => (settled = true));
    await turns();
    expect(settled).toBe(false);
    attached.stdout!.resume();
    expect(await attached.exited).toEqual({ exitCode: 0 });
  });

  test('what is written to stdin once the connection is gone goes nowhere, without an error', async () => {
    const { connection, written, start } = fakeEngine();
    const attached = await start(framed);
    attached.stdin!.write('before\n');
    connection.destroy();
    const errors: Error[] = [];
    attached.stdin!.on('error', (err) => errors.push(err));
    await new Promise<void>((resolve) => attached.stdin!.end('after\n', resolve));
    expect([written, errors]).toEqual([['before\n'], []]);
  });
});

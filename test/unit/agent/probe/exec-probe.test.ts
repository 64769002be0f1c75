import { describe, expect, test } from 'vitest';
import { execProbe } from '../../../../agent/probe/exec-probe.js';
import { ExecTimeoutError } from '../../../../agent/runtime/runtime.js';
import { FakeRuntime } from '../../fixtures.js';

describe('execProbe', () => {
  test('exit 0 is Success with the output', async () => {
    const runtime = new FakeRuntime();
    runtime.execSyncAnswer = () => ({ exitCode: 0, output: 'healthy\n' });
    await expect(execProbe(runtime, 'c1', ['cat', '/tmp/healthy'], 1000)).resolves.toEqual({ result: 'Success', output: 'healthy\n' });
  });

  test('runs the command in the container with the timeout and the 10 KiB output cap', async () => {
    const runtime = new FakeRuntime();
    await execProbe(runtime, 'c1', ['cat', '/tmp/healthy'], 3000);
    expect(runtime.execCalls).toEqual([{ id: 'c1', command: ['cat', '/tmp/healthy'], options: { timeoutMs: 3000, maxOutputBytes: 10240 } }]);
  });

  test('a non-zero exit is Failure with the output', async () => {
    const runtime = new FakeRuntime();
    runtime.execSyncAnswer = () => ({ exitCode: 1, output: 'cat: /tmp/healthy: No such file or directory\n' });
    await expect(execProbe(runtime, 'c1', ['cat', '/tmp/healthy'], 1000)).resolves.toEqual({
      result: 'Failure',
      output: 'cat: /tmp/healthy: No such file or directory\n',
    });
  });

  test('a command that times out is Failure: command "..." timed out', async () => {
    const runtime = new FakeRuntime();
    runtime.execSyncAnswer = ({ command }) => {
      throw new ExecTimeoutError(command, 1000);
    };
    await expect(execProbe(runtime, 'c1', ['sleep', '30'], 1000)).resolves.toEqual({ result: 'Failure', output: 'command "sleep 30" timed out' });
  });

  test('any other error is thrown (the prober discards that run)', async () => {
    const runtime = new FakeRuntime();
    runtime.execSyncAnswer = () => {
      throw new Error('container not running');
    };
    await expect(execProbe(runtime, 'c1', ['true'], 1000)).rejects.toThrow(new Error('container not running'));
  });
});

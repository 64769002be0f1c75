import { describe, expect, test } from 'vitest';
import { CoalescingRunner } from '../../../../common/util/coalescing-runner.js';

describe('CoalescingRunner', () => {
  test('requests while a run goes on fold into one more run, which their promises wait for', async () => {
    let runs = 0;
    let release!: () => void;
    const runner = new CoalescingRunner(async () => {
      runs++;
      if (runs === 1) await new Promise<void>((resolve) => (release = resolve));
    });
    const first = runner.run();
    await Promise.resolve();
    const folded = [runner.run(), runner.run(), runner.run()];
    release();
    await Promise.all([first, ...folded]);
    expect(runs).toBe(2);
    await runner.run();
    expect(runs).toBe(3);
  });

  test('a task that throws at once rejects its run, and the next request runs it again', async () => {
    let runs = 0;
    const runner = new CoalescingRunner(() => {
      runs++;
      throw new Error('malformed');
    });
    await expect(runner.run()).rejects.toThrow('malformed');
    await expect(runner.run()).rejects.toThrow('malformed');
    expect(runs).toBe(2);
  });

  test('after stop, nothing runs', async () => {
    let runs = 0;
    const runner = new CoalescingRunner(async () => void runs++);
    await runner.stop();
    await runner.run();
    expect(runs).toBe(0);
  });
});

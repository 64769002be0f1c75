import { describe, expect, test } from 'vitest';
import { CoalescingRunner } from '../../../../common/util/coalescing-runner.js';

/** A runner whose first run waits for release(); runs() counts the runs begun. */
function gatedRunner(): { runner: CoalescingRunner; runs: () => number; release: () => void } {
  let runs = 0;
  let release!: () => void;
  const runner = new CoalescingRunner(async () => {
    runs++;
    if (runs === 1) await new Promise<void>((resolve) => (release = resolve));
  });
  return { runner, runs: () => runs, release: () => release() };
}

describe('CoalescingRunner', () => {
  test('requests while a run goes on fold into one more run, which their promises wait for', async () => {
    const { runner, runs, release } = gatedRunner();
    const first = runner.run();
    await Promise.resolve();
    const folded = [runner.run(), runner.run(), runner.run()];
    release();
    await Promise.all([first, ...folded]);
    expect(runs()).toBe(2);
    await runner.run();
    expect(runs()).toBe(3);
  });

  test.each([0, 1, 2, 3, 4, 5])('a request %i microtasks after a run ends gets a run of its own', async (depth) => {
    const { runner, runs, release } = gatedRunner();
    const first = runner.run();
    await Promise.resolve();
    release();
    let late: Promise<void> | undefined;
    void (async () => {
      for (let i = 0; i < depth; i++) await Promise.resolve();
      late = runner.run();
    })();
    await first;
    for (let i = 0; i < 10 && !late; i++) await Promise.resolve();
    await late;
    expect(runs()).toBe(2);
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

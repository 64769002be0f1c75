import { describe, expect, test } from 'vitest';
import { Semaphore } from '../../../../common/util/semaphore.js';

/** Tasks that run until the test ends them, counting how many run at once. */
function tracker(): { task: (until: Promise<void>) => () => Promise<void>; max: () => number } {
  let active = 0;
  let max = 0;
  return {
    task: (until) => async () => {
      active++;
      max = Math.max(max, active);
      await until;
      active--;
    },
    max: () => max,
  };
}

function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe('Semaphore', () => {
  test('runs at most the limit at once, the others first come first served', async () => {
    const semaphore = new Semaphore(2);
    const { task, max } = tracker();
    const order: number[] = [];
    const gates = Array.from({ length: 5 }, gate);
    const runs = gates.map((g, i) => semaphore.run(async () => (order.push(i), task(g.opened)())));
    await Promise.resolve();
    expect(order).toEqual([0, 1]);
    for (const g of gates) g.open();
    await Promise.all(runs);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(max()).toBe(2);
  });

  test('a slot that ends goes to the one waiting: a newcomer arriving at any moment of the handover waits too', async () => {
    for (let hops = 0; hops < 6; hops++) {
      const semaphore = new Semaphore(1);
      const { task, max } = tracker();
      const first = gate();
      const second = gate();
      const newcomer = gate();
      const runs = [semaphore.run(task(first.opened)), semaphore.run(task(second.opened))];
      await Promise.resolve();
      first.open();
      let arrival = Promise.resolve();
      for (let i = 0; i < hops; i++) arrival = arrival.then(() => undefined);
      await arrival.then(() => runs.push(semaphore.run(task(newcomer.opened))));
      await runs[0];
      expect(max(), `newcomer after ${hops} microtasks`).toBe(1);
      second.open();
      newcomer.open();
      await Promise.all(runs);
      expect(max()).toBe(1);
    }
  });
});

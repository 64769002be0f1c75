import { beforeEach, describe, expect, test } from 'vitest';
import { Backoff } from '../../../../common/util/backoff.js';

const S = 1000;
let now: number;
const clock = { now: () => now };
let backoff: Backoff;

beforeEach(() => {
  now = 1_000_000;
  backoff = new Backoff({ initialMs: 10 * S, maxMs: 300 * S, clock, monotonic: clock });
});

/** A crash at `now`, handled as the kubelet's doBackOff does: held back while in backoff, else recorded. */
function crash(key: string): number {
  const wait = backoff.remaining(key, now);
  if (wait === 0) backoff.next(key, now);
  return wait;
}

describe('Backoff (client-go flowcontrol semantics)', () => {
  test('an unknown key has no delay and need not wait', () => {
    expect(backoff.get('k')).toBe(0);
    expect(backoff.remaining('k', now)).toBe(0);
  });

  test('the first failure is not held back; it sets the initial delay', () => {
    expect(crash('k')).toBe(0);
    expect(backoff.get('k')).toBe(10 * S);
  });

  test('each later failure doubles the delay: 10s, 20s, 40s, ...', () => {
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      backoff.next('k', now);
      delays.push(backoff.get('k'));
      now += backoff.get('k');
    }
    expect(delays).toEqual([10 * S, 20 * S, 40 * S, 80 * S, 160 * S]);
  });

  test('the delay is capped at the maximum', () => {
    for (let i = 0; i < 10; i++) {
      backoff.next('k', now);
      now += backoff.get('k');
    }
    expect(backoff.get('k')).toBe(300 * S);
  });

  test('a failure within the delay must wait the rest of it, counted from when it happened', () => {
    backoff.next('k', now);
    const failedAt = now;
    now += 4 * S;
    expect(backoff.remaining('k', failedAt)).toBe(6 * S);
    now += 6 * S;
    expect(backoff.remaining('k', failedAt)).toBe(0);
  });

  test('a failure that happened long enough ago may go at once', () => {
    backoff.next('k', now);
    now += 15 * S;
    expect(backoff.remaining('k', now - 12 * S)).toBe(0);
  });

  test('an entry untouched for more than 2 x max expires: the next delay is the initial one again', () => {
    for (let i = 0; i < 4; i++) backoff.next('k', now);
    expect(backoff.get('k')).toBe(80 * S);
    now += 600 * S + 1;
    expect(backoff.remaining('k', now)).toBe(0);
    backoff.next('k', now);
    expect(backoff.get('k')).toBe(10 * S);
  });

  test('exactly 2 x max after the last update the entry still holds', () => {
    backoff.next('k', now);
    backoff.next('k', now);
    now += 600 * S;
    backoff.next('k', now);
    expect(backoff.get('k')).toBe(40 * S);
  });

  test('a maximum below the initial delay lowers the initial delay too', () => {
    const short = new Backoff({ initialMs: 10 * S, maxMs: 2 * S, clock, monotonic: clock });
    short.next('k', now);
    expect(short.get('k')).toBe(2 * S);
    short.next('k', now);
    expect(short.get('k')).toBe(2 * S);
  });

  test('keys are independent', () => {
    backoff.next('a', now);
    backoff.next('a', now);
    backoff.next('b', now);
    expect([backoff.get('a'), backoff.get('b')]).toEqual([20 * S, 10 * S]);
  });

  test('reset forgets a key', () => {
    backoff.next('k', now);
    backoff.reset('k');
    expect(backoff.get('k')).toBe(0);
    expect(crash('k')).toBe(0);
  });

  test('remainingSinceUpdate counts from the last recorded failure (image pulls)', () => {
    expect(backoff.remainingSinceUpdate('img')).toBe(0);
    backoff.next('img', now);
    now += 3 * S;
    expect(backoff.remainingSinceUpdate('img')).toBe(7 * S);
    now += 7 * S;
    expect(backoff.remainingSinceUpdate('img')).toBe(0);
  });

  test('gc drops expired entries and keeps live ones', () => {
    backoff.next('old', now);
    now += 500 * S;
    backoff.next('live', now);
    now += 101 * S;
    backoff.gc();
    expect([backoff.get('old'), backoff.get('live')]).toEqual([0, 10 * S]);
  });

  test('gc with a prefix drops every entry of that prefix (one pod) whatever its age', () => {
    backoff.next('uid-1_main_h', now);
    backoff.next('uid-1_side_h', now);
    backoff.next('uid-2_main_h', now);
    backoff.gc('uid-1_');
    expect([backoff.get('uid-1_main_h'), backoff.get('uid-1_side_h'), backoff.get('uid-2_main_h')]).toEqual([0, 0, 10 * S]);
  });

  test('a crash loop, end to end: restarted at once, then 10s after the next crash, then 20s', () => {
    let finishedAt = now;
    expect(backoff.remaining('k', finishedAt)).toBe(0);
    backoff.next('k', finishedAt);
    now += 1 * S;
    finishedAt = now;
    expect(backoff.remaining('k', finishedAt)).toBe(10 * S);
    now += 10 * S;
    expect(backoff.remaining('k', finishedAt)).toBe(0);
    backoff.next('k', finishedAt);
    now += 1 * S;
    finishedAt = now;
    expect(backoff.remaining('k', finishedAt)).toBe(20 * S);
  });
});

describe('Backoff across steps of the wall clock', () => {
  let wall: number;
  let ticks: number;
  let stepped: Backoff;
  const advance = (ms: number): void => {
    wall += ms;
    ticks += ms;
  };

  beforeEach(() => {
    wall = 1_700_000_000_000;
    ticks = 5_000;
    stepped = new Backoff({ initialMs: 10 * S, maxMs: 300 * S, clock: { now: () => wall }, monotonic: { now: () => ticks } });
  });

  test('a step back after a crash does not lengthen the wait', () => {
    stepped.next('k', wall);
    advance(1 * S);
    const finishedAt = wall;
    expect(stepped.remaining('k', finishedAt)).toBe(10 * S);
    wall -= 3600 * S;
    advance(4 * S);
    expect(stepped.remaining('k', finishedAt)).toBe(6 * S);
    advance(6 * S);
    expect(stepped.remaining('k', finishedAt)).toBe(0);
  });

  test('a step forward after a crash does not cut the wait short', () => {
    stepped.next('k', wall);
    advance(1 * S);
    const finishedAt = wall;
    expect(stepped.remaining('k', finishedAt)).toBe(10 * S);
    wall += 3600 * S;
    expect(stepped.remaining('k', finishedAt)).toBe(10 * S);
  });

  test('a failure time in the future (the clock stepped back before it was seen) counts as now', () => {
    stepped.next('k', wall);
    advance(1 * S);
    const finishedAt = wall + 3600 * S;
    expect(stepped.remaining('k', finishedAt)).toBe(10 * S);
  });

  test('image pulls count from the last recorded failure on the monotonic clock', () => {
    stepped.next('img', wall);
    wall -= 3600 * S;
    advance(3 * S);
    expect(stepped.remainingSinceUpdate('img')).toBe(7 * S);
  });
});

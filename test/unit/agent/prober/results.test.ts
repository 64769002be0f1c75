import { describe, expect, test } from 'vitest';
import { ProbeResults, type ProbeResultUpdate } from '../../../../agent/prober/results.js';

function store(): { results: ProbeResults; updates: ProbeResultUpdate[] } {
  const updates: ProbeResultUpdate[] = [];
  return { results: new ProbeResults('readiness', (u) => updates.push(u)), updates };
}

describe('ProbeResults', () => {
  test('get returns what was set, per container ID', () => {
    const { results } = store();
    results.set('c1', 'Success', 'uid-1');
    results.set('c2', 'Failure', 'uid-1');
    expect([results.get('c1'), results.get('c2'), results.get('c3')]).toEqual(['Success', 'Failure', undefined]);
  });

  test('a set that changes the result is reported with the probe type, pod and container', () => {
    const { results, updates } = store();
    results.set('c1', 'Failure', 'uid-1');
    results.set('c1', 'Success', 'uid-1');
    expect(updates).toEqual([
      { probeType: 'readiness', podUID: 'uid-1', containerId: 'c1', result: 'Failure' },
      { probeType: 'readiness', podUID: 'uid-1', containerId: 'c1', result: 'Success' },
    ]);
  });

  test('setting the same result again is not reported', () => {
    const { results, updates } = store();
    results.set('c1', 'Success', 'uid-1');
    results.set('c1', 'Success', 'uid-1');
    expect(updates).toHaveLength(1);
  });

  test('remove forgets the result without a report; the next set is reported again', () => {
    const { results, updates } = store();
    results.set('c1', 'Success', 'uid-1');
    results.remove('c1');
    expect(results.get('c1')).toBeUndefined();
    expect(updates).toHaveLength(1);
    results.set('c1', 'Success', 'uid-1');
    expect(updates).toHaveLength(2);
  });
});

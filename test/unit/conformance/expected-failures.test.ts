import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { applicableExpectedFailures, checkExpectedFailureNames, loadExpectedFailures, type ExpectedFailure } from '../../conformance/expected-failures.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'expected-failures-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function load(text: string): Promise<ExpectedFailure[]> {
  const file = join(dir, 'expected-failures.yaml');
  await writeFile(file, text);
  return loadExpectedFailures(file);
}

describe('loadExpectedFailures', () => {
  test('reads entries, with and without a condition; an empty file is none', async () => {
    expect(await load('- test: "[k8s.io] A [NodeConformance]"\n  reason: why\n  failsWith: caps\n  onlyIf: privileged-containers-refused\n- test: B\n  reason: because\n  failsWith: "timed out"\n')).toEqual([
      { test: '[k8s.io] A [NodeConformance]', reason: 'why', failsWith: 'caps', onlyIf: 'privileged-containers-refused' },
      { test: 'B', reason: 'because', failsWith: 'timed out' },
    ]);
    expect(await load('# nothing expected to fail\n')).toEqual([]);
  });

  test('an entry without a reason or a failsWith, a failsWith that is no regular expression, an unknown condition or field, or a test listed twice is refused, naming the file and the field', async () => {
    const file = join(dir, 'expected-failures.yaml');
    await expect(load('- test: A\n  failsWith: x\n')).rejects.toThrow(`${file}: [0].reason: Required value`);
    await expect(load('- test: A\n  reason: r\n')).rejects.toThrow(`${file}: [0].failsWith: Required value`);
    await expect(load('- test: A\n  reason: r\n  failsWith: "(unclosed"\n')).rejects.toThrow(`${file}: [0].failsWith: Invalid value: "(unclosed": must be a regular expression`);
    await expect(load('- test: A\n  reason: r\n  failsWith: x\n  onlyIf: sunny\n')).rejects.toThrow(`${file}: [0].onlyIf: Unsupported value: "sunny"`);
    await expect(load('- test: A\n  reason: r\n  failsWith: x\n  because: r\n')).rejects.toThrow(`${file}: [0]: `);
    await expect(load('- test: A\n  reason: r\n  failsWith: x\n- test: A\n  reason: s\n  failsWith: x\n')).rejects.toThrow(`${file}: [1].test: Duplicate value: "A"`);
    await expect(load('test: A\n')).rejects.toThrow(`${file}: (top level): `);
    await expect(load('- test: [unclosed\n')).rejects.toThrow(file);
  });
});

test('an entry that names no test of the suite is refused: a typo, or a test renamed upstream', () => {
  const entries = [{ test: 'A', reason: 'r', failsWith: 'x' }, { test: 'Typo', reason: 'r', failsWith: 'x' }];
  expect(() => checkExpectedFailureNames('f.yaml', entries, new Set(['A', 'B']))).toThrow('f.yaml: [1].test: Not found: "Typo" is no test of the suite\'s focus');
  expect(() => checkExpectedFailureNames('f.yaml', entries.slice(0, 1), new Set(['A']))).not.toThrow();
});

test('an entry with a condition holds only where the condition is true', () => {
  const entries: ExpectedFailure[] = [
    { test: 'Privileged', reason: 'r', failsWith: 'x', onlyIf: 'privileged-containers-refused' },
    { test: 'Always', reason: 's', failsWith: 'x' },
  ];
  expect([...applicableExpectedFailures(entries, { 'privileged-containers-refused': true }).keys()]).toEqual(['Privileged', 'Always']);
  expect([...applicableExpectedFailures(entries, { 'privileged-containers-refused': false }).keys()]).toEqual(['Always']);
});

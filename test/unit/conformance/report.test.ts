import { describe, expect, test } from 'vitest';
import type { ExpectedFailure } from '../../conformance/expected-failures.js';
import type { SpecOutcome } from '../../conformance/junit.js';
import { buildReport, renderMarkdown, type RunFacts } from '../../conformance/report.js';

const facts: RunFacts = {
  startedAt: new Date('2026-12-03T04:00:00Z'),
  durationSeconds: 1386.4,
  kubernetesVersion: 'v1.20.2',
  focus: '\\[NodeConformance\\]',
  nodes: 4,
  versions: { dockerlet: '0.1.0 (abc1234)', Docker: '20.10.24' },
  conditions: { 'privileged-containers-refused': true },
};
const failure = (message: string): SpecOutcome['failure'] => ({ message, location: '/w/test/e2e/common/x.go:1' });
const expected = new Map<string, ExpectedFailure>([
  ['Privileged pod', { test: 'Privileged pod', reason: 'no privileged containers | here', failsWith: 'apply caps', onlyIf: 'privileged-containers-refused' }],
  ['Fixed since', { test: 'Fixed since', reason: 'was broken', failsWith: 'x' }],
]);

describe('buildReport', () => {
  const outcomes: SpecOutcome[] = [
    { name: 'Passes', state: 'passed', seconds: 3 },
    { name: 'Fixed since', state: 'passed', seconds: 3 },
    { name: 'Privileged pod', state: 'failed', seconds: 9, failure: failure('unable to apply caps') },
    { name: 'Breaks', state: 'failed', seconds: 9, failure: failure('timed out') },
    { name: 'Skips itself', state: 'skipped', seconds: 0.1 },
    { name: 'Not selected', state: 'skipped', seconds: 0 },
  ];
  const selected = ['Passes', 'Fixed since', 'Privileged pod', 'Breaks', 'Skips itself', 'Never ran'];
  const report = buildReport(facts, selected, outcomes, new Map([['Skips itself', 'Requires at least 2 nodes']]), expected);

  test('counts the selected specs: passed, failed, failed as expected, skipped with the reason; a spec with no result failed', () => {
    expect(report.totals).toEqual({ selected: 6, passed: 2, failed: 2, expectedFailures: 1, skipped: 1 });
    expect(report.failed).toEqual([
      { name: 'Privileged pod', message: 'unable to apply caps', location: '/w/test/e2e/common/x.go:1', expectedBecause: 'no privileged containers | here' },
      { name: 'Breaks', message: 'timed out', location: '/w/test/e2e/common/x.go:1' },
      { name: 'Never ran', message: 'no result: the suite ended before this spec did (see e2e.log)', location: '' },
    ]);
    expect(report.skipped).toEqual([{ name: 'Skips itself', reason: 'Requires at least 2 nodes' }]);
    expect(report.passed).toEqual(['Passes', 'Fixed since']);
    expect(report.passedDespiteExpectedFailure).toEqual(['Fixed since']);
    expect(report.ok).toBe(false);
    expect(report.durationSeconds).toBe(1386);
  });

  test('passes when every failure is expected; a listed test failing for another reason, and a BeforeSuite failure, are not', () => {
    const onlyExpected = buildReport(facts, ['Privileged pod'], [outcomes[2]!], new Map(), expected);
    expect(onlyExpected.ok).toBe(true);
    const otherCause = buildReport(facts, ['Privileged pod'], [{ ...outcomes[2]!, failure: failure('timed out waiting for the condition') }], new Map(), expected);
    expect(otherCause.ok).toBe(false);
    expect(otherCause.failed[0]!.expectedBecause).toBeUndefined();
    const beforeSuite = buildReport(facts, ['Passes'], [outcomes[0]!, { name: 'BeforeSuite', state: 'failed', seconds: 1, failure: failure('node not Ready') }], new Map(), expected);
    expect(beforeSuite.ok).toBe(false);
    expect(beforeSuite.failed.map((spec) => spec.name)).toEqual(['BeforeSuite']);
  });

  test('the Markdown: the score, the versions, each group with its reasons, table cells escaped', () => {
    const markdown = renderMarkdown(report);
    expect(markdown).toContain('Kubernetes v1.20.2 e2e.test, focus `\\[NodeConformance\\]`, on 4 parallel ginkgo nodes; 2026-12-03, 23 minutes.');
    expect(markdown).toContain('**2 of 6 passed**; 2 failed, 1 failed as expected on this host, 1 skipped.');
    expect(markdown).toContain('| Docker | 20.10.24 |');
    expect(markdown).toContain('| privileged-containers-refused | yes |');
    expect(markdown).toContain('## Failed\n\n| Test | Error |\n|---|---|\n| Breaks | timed out (/w/test/e2e/common/x.go:1) |');
    expect(markdown).toContain('| Privileged pod | no privileged containers \\| here | unable to apply caps |');
    expect(markdown).toContain('## Passed, though listed as expected to fail\n\n- Fixed since');
    expect(markdown).toContain('| Skips itself | Requires at least 2 nodes |');
    expect(markdown).toContain('## Passed\n\n- Passes\n- Fixed since\n');
  });
});

/**
 * The record of a run: every selected spec passed, failed (expected on this host or not) or
 * skipped (with its reason), with the versions it ran on; as JSON and as Markdown. A run passes
 * when every failure is an expected one.
 */
import { expectedBecause, type ExpectedFailure, type HostConditions } from './expected-failures.js';
import type { SpecOutcome } from './junit.js';

export interface RunFacts {
  startedAt: Date;
  durationSeconds: number;
  kubernetesVersion: string;
  focus: string;
  skip?: string;
  nodes: number;
  versions: Record<string, string>;
  conditions: HostConditions;
}

export interface FailedSpec {
  name: string;
  message: string;
  location: string;
  /** Set when the failure is listed as expected on this host: the reason given there. */
  expectedBecause?: string;
}

export interface ConformanceReport {
  suite: string;
  startedAt: string;
  durationSeconds: number;
  focus: string;
  skip?: string;
  parallelNodes: number;
  versions: Record<string, string>;
  hostConditions: HostConditions;
  totals: { selected: number; passed: number; failed: number; expectedFailures: number; skipped: number };
  failed: FailedSpec[];
  skipped: Array<{ name: string; reason: string }>;
  passed: string[];
  /** Entries of the expected-failures file whose test passed: they can go. */
  passedDespiteExpectedFailure: string[];
  /** True when every failure is an expected one. */
  ok: boolean;
}

const NoResult = 'no result: the suite ended before this spec did (see e2e.log)';
const NoSkipReason = 'skipped at run time; no reason found in e2e.log';

export function buildReport(facts: RunFacts, selected: readonly string[], outcomes: readonly SpecOutcome[], skipReasons: ReadonlyMap<string, string>, expected: ReadonlyMap<string, ExpectedFailure>): ConformanceReport {
  const byName = new Map(outcomes.map((outcome) => [outcome.name, outcome]));
  const failed: FailedSpec[] = [];
  const skipped: Array<{ name: string; reason: string }> = [];
  const passed: string[] = [];
  const fail = (name: string, message: string, location: string): void => {
    const because = expectedBecause(expected.get(name), message);
    failed.push({ name, message, location, ...(because ? { expectedBecause: because } : {}) });
  };
  for (const name of selected) {
    const outcome = byName.get(name);
    if (!outcome) fail(name, NoResult, '');
    else if (outcome.state === 'failed') fail(name, outcome.failure!.message, outcome.failure!.location);
    else if (outcome.state === 'skipped') skipped.push({ name, reason: skipReasons.get(name) ?? NoSkipReason });
    else passed.push(name);
  }
  // Failures outside the specs: BeforeSuite and AfterSuite.
  const chosen = new Set(selected);
  for (const outcome of outcomes) if (outcome.state === 'failed' && !chosen.has(outcome.name)) fail(outcome.name, outcome.failure!.message, outcome.failure!.location);
  const expectedFailures = failed.filter((spec) => spec.expectedBecause).length;
  return {
    suite: `Kubernetes ${facts.kubernetesVersion} e2e.test`,
    startedAt: facts.startedAt.toISOString(),
    durationSeconds: Math.round(facts.durationSeconds),
    focus: facts.focus,
    ...(facts.skip ? { skip: facts.skip } : {}),
    parallelNodes: facts.nodes,
    versions: facts.versions,
    hostConditions: facts.conditions,
    totals: { selected: selected.length, passed: passed.length, failed: failed.length - expectedFailures, expectedFailures, skipped: skipped.length },
    failed,
    skipped,
    passed,
    passedDespiteExpectedFailure: passed.filter((name) => expected.has(name)),
    ok: expectedFailures === failed.length,
  };
}

export function renderMarkdown(report: ConformanceReport): string {
  const { totals } = report;
  const minutes = Math.round(report.durationSeconds / 60);
  const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const lines = [
    '# Kubernetes node conformance of dockerlet',
    '',
    `${report.suite}, focus \`${report.focus}\`${report.skip ? `, skip \`${report.skip}\`` : ''}, on ${report.parallelNodes} parallel ginkgo node${report.parallelNodes === 1 ? '' : 's'}; ${report.startedAt.slice(0, 10)}, ${minutes} minute${minutes === 1 ? '' : 's'}.`,
    '',
    `**${totals.passed} of ${totals.selected} passed**; ${totals.failed} failed, ${totals.expectedFailures} failed as expected on this host, ${totals.skipped} skipped.`,
    '',
    '| | |',
    '|---|---|',
    ...Object.entries(report.versions).map(([what, version]) => `| ${what} | ${cell(version)} |`),
    ...Object.entries(report.hostConditions).map(([condition, holds]) => `| ${condition} | ${holds ? 'yes' : 'no'} |`),
    '',
  ];
  const unexpected = report.failed.filter((spec) => !spec.expectedBecause);
  const expected = report.failed.filter((spec) => spec.expectedBecause);
  if (unexpected.length > 0) {
    lines.push('## Failed', '', '| Test | Error |', '|---|---|', ...unexpected.map((spec) => `| ${cell(spec.name)} | ${cell(spec.message)}${spec.location ? ` (${cell(spec.location)})` : ''} |`), '');
  }
  if (expected.length > 0) {
    lines.push('## Failed as expected on this host', '', 'Listed in `test/conformance/expected-failures.yaml`.', '', '| Test | Why | Error |', '|---|---|---|', ...expected.map((spec) => `| ${cell(spec.name)} | ${cell(spec.expectedBecause!)} | ${cell(spec.message)} |`), '');
  }
  if (report.passedDespiteExpectedFailure.length > 0) {
    lines.push('## Passed, though listed as expected to fail', '', ...report.passedDespiteExpectedFailure.map((name) => `- ${name}`), '');
  }
  if (report.skipped.length > 0) {
    lines.push('## Skipped', '', '| Test | Reason |', '|---|---|', ...report.skipped.map((spec) => `| ${cell(spec.name)} | ${cell(spec.reason)} |`), '');
  }
  lines.push('## Passed', '', ...report.passed.map((name) => `- ${name}`), '');
  return lines.join('\n');
}

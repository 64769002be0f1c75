/**
 * The tests that cannot pass on a single Docker node, each named exactly and with the reason
 * (test/conformance/expected-failures.yaml). An entry may hold only on hosts where a condition
 * is checked true at run time (`onlyIf`): on a host where it is false, the test counts again.
 * An entry covers its test only when the failure says what the entry expects (`failsWith`).
 * Anything else that fails, fails the run.
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { z } from 'zod';
import { formatIssues } from '../../agent/config/validation/format-issues.js';

/** What an `onlyIf` may name: a check of this host, run once per run. */
export type HostCondition = 'privileged-containers-refused';
export type HostConditions = Record<HostCondition, boolean>;

const regularExpression = z.string().min(1).refine(
  (source) => {
    try {
      new RegExp(source);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'must be a regular expression' },
);

const ExpectedFailureSchema = z.strictObject({
  test: z.string().min(1),
  reason: z.string().min(1),
  /** The failure's message must match: the test failing for another reason fails the run. */
  failsWith: regularExpression,
  onlyIf: z.enum(['privileged-containers-refused']).optional(),
});
const ExpectedFailuresSchema = z.array(ExpectedFailureSchema);

export type ExpectedFailure = z.infer<typeof ExpectedFailureSchema>;

/** Reads and checks the file; every error names the file and the field. */
export async function loadExpectedFailures(file: string): Promise<ExpectedFailure[]> {
  let document: unknown;
  try {
    document = parse(await readFile(file, 'utf8')) ?? [];
  } catch (err) {
    throw new Error(`${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const parsed = ExpectedFailuresSchema.safeParse(document, { reportInput: true });
  if (!parsed.success) {
    const errors = formatIssues(parsed.error.issues).map((error) => `${error.field || '(top level)'}: ${error.message}`);
    throw new Error(`${file}: ${errors.join('; ')}`);
  }
  const seen = new Set<string>();
  parsed.data.forEach((entry, index) => {
    if (seen.has(entry.test)) throw new Error(`${file}: [${index}].test: Duplicate value: ${JSON.stringify(entry.test)}`);
    seen.add(entry.test);
  });
  return parsed.data;
}

/** An entry that names no test of the suite is a typo or a test renamed upstream: an error, not a silent no-op. */
export function checkExpectedFailureNames(file: string, entries: readonly ExpectedFailure[], suiteTests: ReadonlySet<string>): void {
  entries.forEach((entry, index) => {
    if (!suiteTests.has(entry.test)) throw new Error(`${file}: [${index}].test: Not found: ${JSON.stringify(entry.test)} is no test of the suite's focus`);
  });
}

/** The entries that hold on this host. */
export function applicableExpectedFailures(entries: readonly ExpectedFailure[], conditions: HostConditions): Map<string, ExpectedFailure> {
  return new Map(entries.filter((entry) => !entry.onlyIf || conditions[entry.onlyIf]).map((entry) => [entry.test, entry]));
}

/** The reason `entry` gives for a failure with `message`, when it covers it. */
export function expectedBecause(entry: ExpectedFailure | undefined, message: string): string | undefined {
  return entry && new RegExp(entry.failsWith).test(message) ? entry.reason : undefined;
}

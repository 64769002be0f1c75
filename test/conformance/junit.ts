/**
 * The specs' outcomes from the JUnit reports e2e.test writes into its --report-dir (ginkgo 1.x's
 * reporter: junit_<node>.xml, one a parallel node). A test case is named by its texts after the
 * suite's, joined by spaces, as `--ginkgo.focus` matches them; a failure's text is the failing
 * component's location, the message, and the failure's location, one a line.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';

export type SpecState = 'passed' | 'failed' | 'skipped';

export interface SpecOutcome {
  name: string;
  state: SpecState;
  seconds: number;
  /** Failed specs: the first line of the message, and where the failure happened. */
  failure?: { message: string; location: string };
}

interface JUnitTestCase {
  '@_name': string;
  '@_time'?: string;
  failure?: string | { '#text'?: string };
  skipped?: unknown;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  isArray: (name) => name === 'testcase',
  // Test names keep their text exactly: no numbers, no trimmed or decoded entities left over.
  parseAttributeValue: false,
  parseTagValue: false,
  trimValues: false,
  // Go's encoding/xml writes newlines in text as &#xA;.
  htmlEntities: true,
});

/** One report's specs. `file` names it in errors. */
export function parseJUnitReport(xml: string, file: string): SpecOutcome[] {
  const document = parser.parse(xml) as { testsuite?: { testcase?: JUnitTestCase[] } };
  if (!document.testsuite) throw new Error(`${file}: not a JUnit report (no <testsuite>)`);
  return (document.testsuite.testcase ?? []).map((testCase) => {
    const seconds = Number(testCase['@_time'] ?? 0);
    if (testCase.failure !== undefined) {
      const text = typeof testCase.failure === 'string' ? testCase.failure : (testCase.failure['#text'] ?? '');
      return { name: testCase['@_name'], state: 'failed', seconds, failure: describeFailure(text) };
    }
    return { name: testCase['@_name'], state: testCase.skipped !== undefined ? 'skipped' : 'passed', seconds };
  });
}

/** Every report in `dir`, merged: a spec one parallel node ran counts over the others' "skipped". */
export async function readJUnitReports(dir: string): Promise<SpecOutcome[]> {
  const files = (await readdir(dir)).filter((file) => /^junit.*\.xml$/.test(file)).sort();
  const merged = new Map<string, SpecOutcome>();
  for (const file of files) {
    for (const outcome of parseJUnitReport(await readFile(join(dir, file), 'utf8'), file)) {
      const known = merged.get(outcome.name);
      if (!known || Precedence[outcome.state] > Precedence[known.state]) merged.set(outcome.name, outcome);
    }
  }
  return [...merged.values()];
}

const Precedence: Record<SpecState, number> = { skipped: 0, passed: 1, failed: 2 };

/** e2e's Failf stamps its messages: "Dec  3 03:26:21.732: ". */
const Timestamp = /^[A-Z][a-z]{2} +\d+ \d\d:\d\d:\d\d\.\d+: /;
/** Gomega's failed ExpectNoError: "Unexpected error:", the error's dump, its text, "occurred". */
const UnexpectedError = 'Unexpected error:';
/** Long enough for any error's point; a pod status dumped whole is cut. */
const MaxMessageLength = 400;

/** A container state in a dumped pod status: "Waiting:&ContainerStateWaiting{Reason:RunContainerError,Message:...,}". */
const ContainerStateReason = /ContainerState(?:Waiting|Terminated)\{(?:[A-Za-z]+:[^,]*,)*?Reason:([A-Za-z]+),Message:(.+?),\}/;
/** The most of a container's message kept: its point is at its end ("unable to apply caps: operation not permitted"). */
const MaxContainerMessage = 160;

/**
 * Why a container did not run, when the failure dumped a pod status that says: its state's reason
 * and the end of its message.
 */
function containerCause(text: string): string | undefined {
  const match = ContainerStateReason.exec(text);
  if (!match) return undefined;
  const message = match[2]!.replaceAll('\\"', '"');
  return `${match[1]}: ${message.length > MaxContainerMessage ? `…${message.slice(-MaxContainerMessage)}` : message}`;
}

/**
 * The message's first line (with the error's text, when Gomega dumped one below it), and the
 * failure's location: the first source line after the message (the failing component's comes
 * before it). When the text dumps a pod whose container could not run, why goes in front of the
 * cut, so that the message keeps it.
 */
function describeFailure(text: string): { message: string; location: string } {
  const [, ...lines] = text.split('\n').map((line) => line.trim());
  const isLocation = (line: string): boolean => /^\S+\.go:\d+$/.test(line);
  const first = (lines.find((line) => line !== '' && !isLocation(line)) ?? text.trim()).replace(Timestamp, '');
  const location = lines.slice(lines.findIndex((line) => line.endsWith(first)) + 1).find(isLocation) ?? '';
  const occurred = lines.indexOf('occurred');
  const error = occurred > 0 ? lines[occurred - 1] : undefined;
  const message = !error ? first : first === UnexpectedError ? error : `${first.replace(/:?$/, '')}: ${error}`;
  const cause = containerCause(text);
  const room = MaxMessageLength - (cause ? ` (container: ${cause})`.length : 0);
  const cut = message.length > room ? `${message.slice(0, room - 1)}…` : message;
  return { message: cause ? `${cut} (container: ${cause})` : cut, location };
}

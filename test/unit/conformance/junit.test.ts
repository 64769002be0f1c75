import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { parseJUnitReport, readJUnitReports } from '../../conformance/junit.js';

/** A report as ginkgo 1.x's JUnit reporter writes one (encoding/xml, two-space indent). */
const report = (...cases: string[]): string => `<?xml version="1.0" encoding="UTF-8"?>
  <testsuite name="Kubernetes e2e suite" tests="3" failures="1" errors="0" time="61.5">
      ${cases.join('\n      ')}
  </testsuite>`;

const passed = (name: string): string => `<testcase name="${name}" classname="Kubernetes e2e suite" time="12.25"></testcase>`;
const skipped = (name: string): string => `<testcase name="${name}" classname="Kubernetes e2e suite" time="0">\n          <skipped></skipped>\n      </testcase>`;
const failed = (name: string, text: string): string =>
  `<testcase name="${name}" classname="Kubernetes e2e suite" time="30.5">\n          <failure type="Failure">${text}</failure>\n          <system-out>log</system-out>\n      </testcase>`;

describe('parseJUnitReport', () => {
  test('reads passed, skipped and failed specs, names exactly as written (entities decoded)', () => {
    const specs = parseJUnitReport(
      report(
        passed('[k8s.io] Pods should be updated [NodeConformance] [Conformance]'),
        skipped('[sig-storage] Volumes &#34;quoted&#34; &amp; more [Slow]'),
        failed(
          '[k8s.io] Pods should have their auto-restart back-off timer reset on image update [Slow][NodeConformance]',
          '/workspace/test/e2e/framework/framework.go:597&#xA;timed out waiting for the condition&#xA;second line of the message&#xA;/workspace/test/e2e/common/pods.go:722',
        ),
      ),
      'junit_01.xml',
    );
    expect(specs).toEqual([
      { name: '[k8s.io] Pods should be updated [NodeConformance] [Conformance]', state: 'passed', seconds: 12.25 },
      { name: '[sig-storage] Volumes "quoted" & more [Slow]', state: 'skipped', seconds: 0 },
      {
        name: '[k8s.io] Pods should have their auto-restart back-off timer reset on image update [Slow][NodeConformance]',
        state: 'failed',
        seconds: 30.5,
        failure: { message: 'timed out waiting for the condition', location: '/workspace/test/e2e/common/pods.go:722' },
      },
    ]);
  });

  test("the message loses e2e's timestamp, and gains the error's text when Gomega dumped one", () => {
    const dumped = (first: string, error: string): string =>
      ['k8s.io/kubernetes/test/e2e/common/privileged.go:49', first, 'Unexpected error:', '    &lt;*errors.errorString | 0xc002506dc0&gt;: {', `        s: &#34;${error}&#34;,`, '    }', `    ${error}`, 'occurred', 'k8s.io/kubernetes/test/e2e/common/privileged.go:71'].join('&#xA;');
    const [withCommand] = parseJUnitReport(report(failed('p', dumped('Dec  3 03:46:37.721: cmd [ip link add dummy1 type dummy], stdout "", stderr ""', 'container not found'))), 'junit_01.xml');
    expect(withCommand!.failure).toEqual({ message: 'cmd [ip link add dummy1 type dummy], stdout "", stderr "": container not found', location: 'k8s.io/kubernetes/test/e2e/common/privileged.go:71' });
    const bare = dumped('Dec  3 03:50:12.548: Unexpected error:', 'x').split('&#xA;').filter((line) => line !== 'Unexpected error:').join('&#xA;');
    const [onlyError] = parseJUnitReport(report(failed('h', bare.replace(/x&#34;|    x/g, (m) => m.replace('x', `expected pod success: ${'y'.repeat(500)}`)))), 'junit_01.xml');
    expect(onlyError!.failure!.message).toMatch(/^expected pod success: y+…$/);
    expect(onlyError!.failure!.message).toHaveLength(400);
  });

  test("a dumped pod whose container could not run: the container's reason and the end of its message survive the cut", () => {
    const status = `pod status: {Phase:Pending ${'x'.repeat(600)} ContainerStatuses:[{Name:c State:{Waiting:&amp;ContainerStateWaiting{Reason:RunContainerError,Message:failed to start container \\&#34;b54c\\&#34;: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: unable to apply caps: operation not permitted: unknown,} Running:nil}}]}`;
    const [spec] = parseJUnitReport(report(failed('h', `/w/test/e2e/framework/util.go:725&#xA;Dec  3 03:50:12.548: ${status}&#xA;/w/test/e2e/framework/util.go:725`)), 'junit_01.xml');
    expect(spec!.failure!.message).toMatch(/^pod status: \{Phase:Pending x+… \(container: RunContainerError: ….*unable to apply caps: operation not permitted: unknown\)$/);
    expect(spec!.failure!.message.length).toBeLessThanOrEqual(400);
  });

  test('a panic: the message and its location, not the stack after it', () => {
    const text = '/w/test/e2e/framework/framework.go:597&#xA;Test Panicked&#xA;/usr/lib/go/src/runtime/panic.go:969&#xA;&#xA;Panic: boom&#xA;&#xA;Full stack:&#xA;k8s.io/x.f()&#xA;\t/w/x.go:10 +0x1';
    const [spec] = parseJUnitReport(report(failed('[k8s.io] p', text)), 'junit_02.xml');
    expect(spec!.failure).toEqual({ message: 'Test Panicked', location: '/usr/lib/go/src/runtime/panic.go:969' });
  });

  test('a BeforeSuite failure is a failed case named BeforeSuite', () => {
    const [spec] = parseJUnitReport(report(failed('BeforeSuite', '/w/e2e.go:1&#xA;node not ready&#xA;/w/e2e.go:2')), 'junit_01.xml');
    expect(spec).toMatchObject({ name: 'BeforeSuite', state: 'failed', failure: { message: 'node not ready' } });
  });

  test('something else is refused, naming the file', () => {
    expect(() => parseJUnitReport('<html></html>', 'junit_03.xml')).toThrow('junit_03.xml: not a JUnit report (no <testsuite>)');
  });
});

describe('readJUnitReports', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("merges parallel nodes' reports: a spec one node ran counts over the others' skipped", async () => {
    dir = await mkdtemp(join(tmpdir(), 'junit-test-'));
    await writeFile(join(dir, 'junit_01.xml'), report(passed('a'), skipped('b'), skipped('c')));
    await writeFile(join(dir, 'junit_02.xml'), report(skipped('a'), failed('b', 'x.go:1&#xA;boom&#xA;y.go:2'), skipped('c')));
    await writeFile(join(dir, 'e2e.log'), 'not a report');
    const specs = await readJUnitReports(dir);
    expect(specs.map((spec) => [spec.name, spec.state])).toEqual([
      ['a', 'passed'],
      ['b', 'failed'],
      ['c', 'skipped'],
    ]);
  });
});

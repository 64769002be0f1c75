/**
 * Why specs skipped themselves at run time. The JUnit report only says "skipped"; the reason is
 * in ginkgo's console output (without colour), a block for each such spec:
 *
 *   S [SKIPPING] in Spec Setup (BeforeEach) [0.123 seconds]
 *   [k8s.io] Pods                               the spec's texts, each followed by its location;
 *   /path/to/framework.go:624                   the one that skipped ends in "[BeforeEach]"
 *     should do a thing [NodeConformance] [BeforeEach]
 *     /path/to/pods.go:101
 *
 *     Only supported for providers [gce] (not skeleton)
 *
 *     /path/to/skipper.go:55
 *
 * The spec's name is its texts joined by spaces, as the JUnit report names it.
 */

const Header = /^S \[SKIPPING\]/;
const Location = /^\S+\.go:\d+$/;
const FailedComponent = / \[(BeforeSuite|AfterSuite|BeforeEach|JustBeforeEach|AfterEach|It|Measurement)\]$/;

/** Spec name to the reason it gave, for each spec that skipped itself in `output`. */
export function parseSkipReasons(output: string): Map<string, string> {
  const reasons = new Map<string, string>();
  const lines = output.split('\n').map((line) => line.trim());
  for (let index = 0; index < lines.length; index += 1) {
    if (!Header.test(lines[index]!)) continue;
    const texts: string[] = [];
    let cursor = index + 1;
    for (; cursor < lines.length && lines[cursor] !== ''; cursor += 1) {
      if (!Location.test(lines[cursor]!)) texts.push(lines[cursor]!.replace(FailedComponent, ''));
    }
    const message: string[] = [];
    for (cursor += 1; cursor < lines.length && lines[cursor] !== ''; cursor += 1) message.push(lines[cursor]!);
    if (texts.length > 0 && message.length > 0) reasons.set(texts.join(' '), message.join(' '));
    index = cursor;
  }
  return reasons;
}

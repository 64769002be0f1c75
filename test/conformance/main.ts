/**
 * npm run conformance [-- [--focus REGEX] [--skip REGEX] [--nodes N] [--out DIR]]:
 * Kubernetes' own [NodeConformance] e2e tests against a dockerlet node. Builds (once) what they
 * need from Debian's kubernetes source, starts the project's control plane with a scheduler,
 * joins `dockerlet up` to it as the one node, runs the suite, stops and removes everything it
 * started, and writes the results: a full run to test/conformance/results/latest.{json,md} (the
 * record committed with the code), a run with --focus or --skip to results/partial/ (not
 * committed). The logs (the suite's, the node's, the control plane's, the JUnit reports) go to
 * <out>/logs/. Exit 0 when every failure is listed in expected-failures.yaml for this host, 1
 * when one is not, 2 for bad flags or a bad expected-failures file, 130 when interrupted.
 * The node runs a service proxy: no `npm test` may run on the machine meanwhile.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, release, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { ControlPlane } from '../helpers/control-plane.js';
import { docker } from '../helpers/docker.js';
import { applicableExpectedFailures, checkExpectedFailureNames, loadExpectedFailures } from './expected-failures.js';
import { checkHostConditions } from './host-conditions.js';
import { startImageRegistries } from './image-registries.js';
import { readJUnitReports } from './junit.js';
import { NodeUnderTest } from './node-under-test.js';
import { buildReport, renderMarkdown, type ConformanceReport } from './report.js';
import { parseSkipReasons } from './skip-reasons.js';
import { listSpecs, runSuite } from './suite.js';
import { buildToolchain } from './toolchain.js';

const run = promisify(execFile);
const Here = import.meta.dirname;
const ExpectedFailuresFile = join(Here, 'expected-failures.yaml');
const LatestDir = join(Here, 'results');
const PartialDir = join(Here, 'results', 'partial');
const NodeConformance = '\\[NodeConformance\\]';
const NodeName = 'conformance-node';

interface Flags {
  focus?: string;
  skip?: string;
  nodes: string;
  out?: string;
}

const progress = (message: string): void => void process.stderr.write(`[conformance] ${message}\n`);
/** Says what is wrong with the flags or the expected-failures file (the run exits 2). */
const reportBadInput = (err: unknown): undefined => void console.error(err instanceof Error ? err.message : String(err));

async function main(flags: Flags): Promise<number> {
  const nodes = Number(flags.nodes);
  if (!Number.isInteger(nodes) || nodes < 1) {
    console.error(`--nodes ${flags.nodes}: want a whole number of parallel ginkgo nodes, 1 or more`);
    return 2;
  }
  const partial = flags.focus !== undefined || flags.skip !== undefined;
  const selection = { focus: flags.focus ?? NodeConformance, ...(flags.skip ? { skip: flags.skip } : {}) };
  const outDir = resolve(flags.out ?? (partial ? PartialDir : LatestDir));
  const entries = await loadExpectedFailures(ExpectedFailuresFile).catch(reportBadInput);
  if (!entries) return 2;

  // From here on, SIGINT and SIGTERM stop what runs and remove what this run started; a second one is told to wait.
  const interrupted = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    progress(interrupted.signal.aborted ? `${signal}: still stopping; wait for the cleanup to finish` : `${signal}: stopping, then removing what this run started`);
    interrupted.abort();
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);

  progress('building e2e.test, ginkgo, the control plane and the images (the first time: 15 minutes or more; then seconds)');
  const toolchain = await buildToolchain((line) => progress(line), interrupted.signal).catch((err: unknown) => {
    if (interrupted.signal.aborted) return undefined;
    throw err;
  });
  if (!toolchain) return 130;
  const suiteTests = await listSpecs(toolchain, { focus: NodeConformance });
  try {
    checkExpectedFailureNames(ExpectedFailuresFile, entries, new Set(suiteTests));
  } catch (err) {
    reportBadInput(err);
    return 2;
  }
  const selected = partial ? await listSpecs(toolchain, selection) : suiteTests;
  if (selected.length === 0) {
    console.error(`no test of ${toolchain.kubernetesVersion}'s e2e.test matches --focus ${selection.focus}${selection.skip ? ` without --skip ${selection.skip}` : ''}`);
    return 2;
  }
  const conditions = await checkHostConditions();
  const expected = applicableExpectedFailures(entries, conditions);

  const logDir = join(outDir, 'logs');
  await rm(logDir, { recursive: true, force: true });
  await mkdir(join(logDir, 'junit'), { recursive: true });
  const suiteLog = join(logDir, 'e2e.log');

  const startedAt = new Date();
  // What runs is what is checked out now, whatever changes while the suite runs.
  const runVersions = await versions(toolchain.kubernetesVersion);
  let suiteExit: number | null = null;
  const work = await mkdtemp(join(tmpdir(), 'dockerlet-conformance-'));
  const cleanups: Array<() => Promise<void>> = [() => rm(work, { recursive: true, force: true })];
  try {
    progress('starting the image registries, the control plane and node conformance-node');
    const registries = await startImageRegistries(work);
    cleanups.push(() => registries.stop());
    const plane = await ControlPlane.start({ scheduler: true, nodeMonitorGracePeriodSeconds: 40 });
    cleanups.push(async () => {
      try {
        await keepLogs(plane.dir, logDir);
      } finally {
        await plane.stop();
      }
    });
    const node = await NodeUnderTest.start(plane, { name: NodeName, dir: join(work, 'node'), logFile: join(logDir, 'node.log') });
    cleanups.push(() => node.stop());
    if (interrupted.signal.aborted) return 130;

    progress(`running ${selected.length} tests on ${nodes} parallel ginkgo node${nodes === 1 ? '' : 's'}; the suite's output: ${suiteLog}`);
    const counter = specCounter(selected.length, startedAt);
    suiteExit = await runSuite(toolchain, {
      ...selection,
      kubeconfig: plane.adminKubeconfig,
      reportDir: join(logDir, 'junit'),
      logFile: suiteLog,
      nodes,
      repoListFile: registries.repoListFile,
      dockerConfigFile: registries.dockerConfigFile,
      onSpecDone: counter,
    }, interrupted.signal);
  } finally {
    // Each runs, whatever the others did: one that fails must not leave the rest running.
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((err: unknown) => {
        process.exitCode = 1;
        console.error(`npm run conformance: cleaning up: ${err instanceof Error ? err.message : String(err)}`);
      });
    }
  }
  if (interrupted.signal.aborted) return 130;

  const outcomes = await readJUnitReports(join(logDir, 'junit'));
  if (suiteExit !== 0 && !outcomes.some((outcome) => outcome.state === 'failed')) {
    console.error(`npm run conformance: the suite exited ${suiteExit} without a failed test in its reports; see ${suiteLog}`);
    return 1;
  }
  const skipReasons = parseSkipReasons(await readFile(suiteLog, 'utf8'));
  const facts = {
    startedAt,
    durationSeconds: (Date.now() - startedAt.getTime()) / 1000,
    kubernetesVersion: toolchain.kubernetesVersion,
    ...selection,
    nodes,
    versions: runVersions,
    conditions,
  };
  const report = buildReport(facts, selected, outcomes, skipReasons, expected);
  await writeFile(join(outDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(outDir, 'latest.md'), renderMarkdown(report));
  summarize(report, outDir);
  return report.ok ? 0 : 1;
}

/** Counts the specs as they end: a line for each failure, and one every tenth spec or minute. */
function specCounter(total: number, startedAt: Date): (message: string) => void {
  let done = 0;
  let failed = 0;
  let lastLine = Date.now();
  return (message) => {
    done += 1;
    if (message.startsWith('FAILED ')) failed += 1;
    const minutes = Math.floor((Date.now() - startedAt.getTime()) / 60_000);
    if (message.startsWith('FAILED ') || done % 10 === 0 || done === total || Date.now() - lastLine > 60_000) {
      progress(`${done}/${total} done, ${failed} failed, ${minutes} min${message.startsWith('FAILED ') ? `: ${message}` : ''}`);
      lastLine = Date.now();
    }
  };
}

async function keepLogs(from: string, to: string): Promise<void> {
  for (const file of await readdir(from)) if (file.endsWith('.log')) await copyFile(join(from, file), join(to, file));
}

async function versions(kubernetes: string): Promise<Record<string, string>> {
  const revision = await run('git', ['-C', Here, 'describe', '--always', '--dirty'])
    .then(({ stdout }) => stdout.trim())
    .catch(() => 'not a git checkout');
  const packageJson = JSON.parse(await readFile(join(Here, '../../package.json'), 'utf8')) as { version: string };
  return {
    dockerlet: `${packageJson.version} (${revision})`,
    'e2e.test and control plane': kubernetes,
    Docker: (await docker.version()).Version,
    kernel: release(),
    'Node.js': process.version,
    CPUs: String(cpus().length),
  };
}

function summarize(report: ConformanceReport, outDir: string): void {
  const { totals } = report;
  console.log(`${totals.passed} of ${totals.selected} passed; ${totals.failed} failed, ${totals.expectedFailures} failed as expected on this host, ${totals.skipped} skipped (${Math.round(report.durationSeconds / 60)} min)`);
  for (const spec of report.failed.filter((failure) => !failure.expectedBecause)) console.log(`  FAILED ${spec.name}\n    ${spec.message}`);
  for (const name of report.passedDespiteExpectedFailure) console.log(`  passed, though listed in expected-failures.yaml: ${name}`);
  console.log(`results: ${join(outDir, 'latest.md')}`);
}

const program = new Command('npm run conformance')
  .description("Kubernetes' [NodeConformance] e2e tests against a dockerlet node")
  .option('--focus <regex>', `only the e2e tests whose names match (default: ${NodeConformance}); results go to ${PartialDir}`)
  .option('--skip <regex>', `leave out the tests whose names match; results go to ${PartialDir}`)
  .option('--nodes <n>', 'parallel ginkgo nodes', '4')
  .option('--out <dir>', 'where latest.json, latest.md and logs/ go')
  .action(async (flags: Flags) => {
    const code = await main(flags).catch((err: unknown) => {
      console.error(`npm run conformance: ${err instanceof Error ? err.message : String(err)}`);
      return 1;
    });
    // A failed cleanup has set 1 already.
    if (!process.exitCode) process.exitCode = code;
  });
await program.parseAsync();

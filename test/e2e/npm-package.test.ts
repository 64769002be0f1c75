/**
 * The npm package as a user gets it: `npm pack` of this repository installed into a scratch
 * project, whose CLI runs and whose typed API starts a node, runs a pod and stops.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { nodeContainers } from '../helpers/docker.js';
import { uniqueNodeName } from '../helpers/test-node.js';

/** Runs a command; a failure says what it printed (tsc and npm report on stdout). */
async function run(command: string, args: readonly string[], options: { cwd?: string; timeout?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  try {
    return await promisify(execFile)(command, args, { ...options, encoding: 'utf8' });
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed:\n${stdout ?? ''}${stderr ?? ''}`, { cause: err });
  }
}
const root = resolve(import.meta.dirname, '../..');
let scratch: string;
let tarball: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'dockerlet-package-'));
  // dist/ is built by the e2e setup; packing must not rebuild it under the other tests' feet.
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', scratch], { cwd: root });
  tarball = join(scratch, (JSON.parse(stdout) as Array<{ filename: string }>)[0]!.filename);
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

test('the tarball holds what runs, and no tests, sources or source maps', async () => {
  const { stdout } = await run('tar', ['-tzf', tarball]);
  const files = stdout.trim().split('\n');
  for (const file of ['package/package.json', 'package/README.md', 'package/dist/cli/main.js', 'package/dist/library/index.js', 'package/dist/library/index.d.ts', 'package/scripts/setup-host.sh', 'package/scripts/build-control-plane.sh', 'package/scripts/lib/kubernetes-build.sh']) expect(files).toContain(file);
  expect(files.filter((file) => /^package\/(test|agent|proxy|common|cli|library)\//.test(file) || file.endsWith('.map') || (file.endsWith('.ts') && !file.endsWith('.d.ts')))).toEqual([]);
});

test('installed into a scratch project: npx dockerlet runs, and the typed API starts a node, runs a pod and stops', async () => {
  const project = join(scratch, 'project');
  await run('mkdir', ['-p', project]);
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', private: true, type: 'module' }));
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--save-dev', tarball], { cwd: project, timeout: 300_000 });

  const version = await run('npx', ['dockerlet', '--version'], { cwd: project });
  expect(version.stdout).toMatch(/^dockerlet \d+\.\d+\.\d+ \(Kubernetes v1\.\d+/);

  const name = uniqueNodeName('pkg');
  await writeFile(join(project, 'resolv.conf'), 'nameserver 127.0.0.1\n');
  await writeFile(
    join(project, 'check.ts'),
    `import { startNode, type TestNode, type ExecResult } from 'dockerlet';
const node: TestNode = await startNode({ name: ${JSON.stringify(name)}, resolvConf: 'resolv.conf' });
try {
  await node.apply({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'hello' }, spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'dockerlet.local/busybox:1.35', command: ['echo', 'hello from a pod'] }] } });
  const [pod] = await node.waitForPods(['hello'], { timeout: '60s' });
  const logs: string = await node.logs('hello');
  console.log(JSON.stringify({ phase: pod?.status?.phase, logs }));
} finally {
  await node.stop();
}
export type Checked = ExecResult;
`,
  );
  // The declarations type-check in a strict project of the user's (with this repository's compiler and Node types).
  await writeFile(
    join(project, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { target: 'ES2023', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, typeRoots: [join(root, 'node_modules/@types')], types: ['node'] }, files: ['check.ts'] }),
  );
  await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: project });
  await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit', 'false', '--outDir', '.', '--skipLibCheck'], { cwd: project });
  const { stdout } = await run(process.execPath, ['check.js'], { cwd: project, timeout: 120_000 });
  expect(JSON.parse(stdout.trim())).toEqual({ phase: 'Succeeded', logs: 'hello from a pod\n' });
  expect(await nodeContainers(name)).toEqual([]);
  expect(await readdir(join(project, 'node_modules/dockerlet/dist/library'))).toContain('index.d.ts');
}, 400_000);

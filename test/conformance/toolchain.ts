/**
 * What the suite runs with: e2e.test, the ginkgo CLI and the images, built by
 * scripts/build-conformance.sh from Debian's kubernetes source and kept in the control plane's
 * cache (the first build takes minutes; later ones find everything there in seconds). The
 * script's progress lines are passed on as they come.
 */
import { execFile, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BuildScript = resolve(import.meta.dirname, '../../scripts/build-conformance.sh');

export interface Toolchain {
  e2eTest: string;
  ginkgo: string;
  /** Upstream's version of the suite, e.g. v1.20.2. */
  kubernetesVersion: string;
}

export async function buildToolchain(progress: (line: string) => void): Promise<Toolchain> {
  const child = spawn(BuildScript, [], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  createInterface({ input: child.stderr }).on('line', progress);
  const code = await new Promise<number | null>((resolveExit, reject) => {
    child.on('error', reject);
    child.on('close', resolveExit);
  });
  if (code !== 0) throw new Error(`${BuildScript} failed (exit ${code}); its messages are above`);
  const dir = stdout.trim().split('\n').at(-1)!;
  const e2eTest = join(dir, 'e2e.test');
  const kubernetesVersion = (await run(e2eTest, ['--version'])).stdout.trim();
  return { e2eTest, ginkgo: join(dir, 'ginkgo'), kubernetesVersion };
}

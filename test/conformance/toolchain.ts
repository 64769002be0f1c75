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

/** Builds what is missing; `signal` stops the build (SIGTERM to the script and the builds it runs) and rejects. */
export async function buildToolchain(progress: (line: string) => void, signal: AbortSignal): Promise<Toolchain> {
  // Its own process group, so that an interrupt reaches the go builds the script runs.
  const child = spawn(BuildScript, [], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const stop = (): void => {
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      // Already gone.
    }
  };
  signal.addEventListener('abort', stop, { once: true });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  createInterface({ input: child.stderr }).on('line', progress);
  const code = await new Promise<number | null>((resolveExit, reject) => {
    child.on('error', reject);
    child.on('close', resolveExit);
  }).finally(() => signal.removeEventListener('abort', stop));
  if (signal.aborted) throw new Error('interrupted while building');
  if (code !== 0) throw new Error(`${BuildScript} failed (exit ${code}); its messages are above`);
  const dir = stdout.trim().split('\n').at(-1)!;
  const e2eTest = join(dir, 'e2e.test');
  const kubernetesVersion = (await run(e2eTest, ['--version'])).stdout.trim();
  return { e2eTest, ginkgo: join(dir, 'ginkgo'), kubernetesVersion };
}

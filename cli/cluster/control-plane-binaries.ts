/**
 * The control plane's programs: etcd from Debian's etcd-server package (installed when
 * missing), and kube-apiserver, kube-controller-manager and kube-scheduler built once from
 * Debian's kubernetes source by scripts/build-control-plane.sh, which keeps them under
 * /var/cache/dockerlet/control-plane and answers at once when they are there. The build's
 * progress lines go to the user as they come.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { DockerletError, errorMessage } from '../../common/api/errors.js';

const run = promisify(execFile);

export interface ControlPlaneBinaries {
  binDir: string;
  etcd: string;
  /** `kube-apiserver --version`'s version, such as v1.20.2. */
  version: string;
}

/** The directory of dockerlet's package: the scripts live there, beside dist/. */
function packageRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${import.meta.dirname}`);
    dir = parent;
  }
  return dir;
}

/**
 * Finds etcd and the cached control plane, installing and building what is missing; `progress`
 * gets a line per step. `signal` ends an install or a build under way.
 */
export async function controlPlaneBinaries(progress: (line: string) => void, signal: AbortSignal): Promise<ControlPlaneBinaries> {
  const etcd = await ensureEtcd(progress, signal);
  const binDir = await buildControlPlane(progress, signal);
  const { stdout } = await run(join(binDir, 'kube-apiserver'), ['--version']);
  const version = stdout.trim().replace(/^Kubernetes\s+/, '');
  progress(`control plane ${version} from ${binDir}`);
  return { binDir, etcd, version };
}

async function whichEtcd(): Promise<string | undefined> {
  return run('sh', ['-c', 'command -v etcd']).then(({ stdout }) => stdout.trim() || undefined, () => undefined);
}

async function ensureEtcd(progress: (line: string) => void, signal: AbortSignal): Promise<string> {
  const found = await whichEtcd();
  if (found) return found;
  progress("installing Debian's etcd-server (apt-get; an interruption waits for it, so that dpkg is not left half done)");
  await runWithProgress('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'etcd-server'], { progress, env: { DEBIAN_FRONTEND: 'noninteractive' } }).catch((err: unknown) => {
    throw new DockerletError('DKL_ERR_RUNTIME', `${errorMessage(err)}\ninstall etcd yourself (apt-get update && apt-get install etcd-server), then run cluster up again`);
  });
  signal.throwIfAborted();
  // The package starts an etcd of its own on :2379 where systemd runs; the cluster runs its own.
  if (existsSync('/run/systemd/system')) await run('systemctl', ['disable', '--now', 'etcd']).catch(() => undefined);
  const installed = await whichEtcd();
  if (!installed) throw new DockerletError('DKL_ERR_RUNTIME', 'etcd-server was installed but no etcd is on PATH');
  return installed;
}

const buildScript = (): string => join(packageRoot(), 'scripts', 'build-control-plane.sh');

/**
 * The binaries a resumed cluster ran with, while they are all still there and built with every
 * fix the build script now applies to the source (the record it leaves beside them against its
 * --source-fixes): a newer source version is built only for a new cluster, a newer fix for every
 * cluster. Undefined when they are not.
 */
export async function stillUsable(recorded: ControlPlaneBinaries | undefined): Promise<ControlPlaneBinaries | undefined> {
  if (!recorded) return undefined;
  const files = [recorded.etcd, ...['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'].map((name) => join(recorded.binDir, name))];
  const present = await Promise.all(files.map((file) => access(file).then(() => true, () => false)));
  return present.every(Boolean) && (await builtWithCurrentFixes(recorded.binDir)) ? recorded : undefined;
}

async function builtWithCurrentFixes(binDir: string): Promise<boolean> {
  const script = buildScript();
  const [wanted, recorded] = await Promise.all([
    run(script, ['--source-fixes']).then(
      ({ stdout }) => stdout.trim(),
      (err: unknown) => {
        throw new DockerletError('DKL_ERR_RUNTIME', `could not ask ${script} which fixes it applies, to check the control plane in ${binDir}: ${errorMessage(err)}`);
      },
    ),
    readFile(join(binDir, '.source-fixes'), 'utf8').then((text) => text.trim(), () => ''),
  ]);
  return recorded === wanted;
}

async function buildControlPlane(progress: (line: string) => void, signal: AbortSignal): Promise<string> {
  const script = buildScript();
  const stdout = await runWithProgress(script, [], { progress, signal });
  const binDir = stdout.trim().split('\n').at(-1);
  if (!binDir) throw new DockerletError('DKL_ERR_RUNTIME', `${script} printed no directory`);
  return binDir;
}

/**
 * Runs `command` in a process group of its own, handing each line of its stderr to `progress`;
 * resolves with its stdout, rejects with its last lines when it fails. When `signal` aborts, or
 * this process exits first, the whole group gets SIGTERM: a build's compilers stop with its
 * script. Without a signal it runs to its end whatever happens here (a package install).
 */
function runWithProgress(
  command: string,
  args: readonly string[],
  options: { progress: (line: string) => void; signal?: AbortSignal; env?: Record<string, string> },
): Promise<string> {
  const { progress, signal } = options;
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env }, detached: true });
    const endGroup = (): void => {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // The group has already ended.
      }
    };
    if (signal) {
      signal.addEventListener('abort', endGroup, { once: true });
      process.once('exit', endGroup);
    }
    let stdout = '';
    const lastLines: string[] = [];
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    createInterface({ input: child.stderr }).on('line', (line) => {
      lastLines.push(line);
      if (lastLines.length > 20) lastLines.shift();
      progress(line);
    });
    child.once('error', (err) => reject(new DockerletError('DKL_ERR_RUNTIME', `${command} did not start: ${err.message}`)));
    child.once('close', (code, exitSignal) => {
      signal?.removeEventListener('abort', endGroup);
      process.off('exit', endGroup);
      if (signal?.aborted) reject(signal.reason);
      else if (code === 0) resolve(stdout);
      else reject(new DockerletError('DKL_ERR_RUNTIME', `${command} ${args.join(' ')} failed (${code === null ? `signal ${exitSignal}` : `exit code ${code}`}):\n${lastLines.join('\n')}`));
    });
  });
}

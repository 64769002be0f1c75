/**
 * Baseline (b): `podman kube play` of the same manifests, with Debian's podman (rootful, its own
 * CNI network). Podman's default rlimits exceed this host's hard limits, so it is pointed
 * (CONTAINERS_CONF) at a containers.conf of the run's own that lowers them; the busybox image is
 * copied over from Docker (docker save | podman load), and a first play builds podman's pause
 * image before anything is timed. A pod is "Running" when kube play returns: it has started
 * every container by then, and it knows nothing of readiness. When podman cannot run here, why
 * is the result, and every figure of podman says so.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BusyboxImage } from '../../helpers/docker.js';
import { now } from './clock.js';
import { podManifest, sleeperPod, yamlDocuments, type BenchPod } from './pods.js';

const run = promisify(execFile);

export class PodmanBaseline {
  readonly #dir: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #run: string;
  #plays = 0;

  private constructor(dir: string, runId: string) {
    this.#dir = dir;
    this.#run = runId;
    this.#env = { ...process.env, CONTAINERS_CONF: join(dir, 'containers.conf') };
  }

  /** Prepares podman for the run, or says why it cannot run here. */
  static async prepare(runId: string): Promise<{ podman: PodmanBaseline; version: string } | { podman?: undefined; reason: string }> {
    let version: string;
    try {
      version = (await run('podman', ['--version'])).stdout.trim();
    } catch {
      return { reason: 'podman is not installed (scripts/setup-host.sh --for-bench installs Debian\'s podman and catatonit)' };
    }
    const dir = await mkdtemp(join(tmpdir(), 'dockerlet-bench-podman-'));
    const podman = new PodmanBaseline(dir, runId);
    try {
      await writeFile(join(dir, 'containers.conf'), '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n');
      await run('sh', ['-c', `docker save ${BusyboxImage} | podman load`], { env: podman.#env });
      const warmUp = await podman.play([sleeperPod('warm-up')]);
      await podman.down(warmUp.file);
    } catch (err) {
      await podman.dispose();
      return { reason: `${version} could not run a pod here: ${err instanceof Error ? err.message.split('\n').slice(0, 3).join(' ') : String(err)}` };
    }
    return { podman, version };
  }

  /** `podman kube play` of the pods (one file); resolves with its duration and the file, for down(). */
  async play(pods: readonly BenchPod[]): Promise<{ ms: number; file: string }> {
    this.#plays += 1;
    const file = join(this.#dir, `play-${this.#plays}.yaml`);
    await writeFile(file, yamlDocuments(pods.map((pod) => podManifest({ ...pod, name: this.podName(pod.name) }))));
    const started = now();
    await run('podman', ['kube', 'play', file], { env: this.#env, maxBuffer: 16 * 1024 * 1024 });
    return { ms: now() - started, file };
  }

  /** The name podman's pod gets: the run's prefix keeps it apart from anyone else's. */
  podName(name: string): string {
    return `bench-${this.#run}-${name}`;
  }

  /** `podman kube down` of what a play made. */
  async down(file: string): Promise<void> {
    await run('podman', ['kube', 'down', file], { env: this.#env, maxBuffer: 16 * 1024 * 1024 });
  }

  /** Removes any pod of this run still there, and the run's files. */
  async dispose(): Promise<void> {
    const listed = await run('podman', ['pod', 'ps', '--filter', `name=^bench-${this.#run}-`, '--format', '{{.ID}}'], { env: this.#env }).catch(() => ({ stdout: '' }));
    const ids = listed.stdout.split('\n').filter(Boolean);
    if (ids.length > 0) await run('podman', ['pod', 'rm', '--force', ...ids], { env: this.#env }).catch(() => undefined);
    await rm(this.#dir, { recursive: true, force: true });
  }
}

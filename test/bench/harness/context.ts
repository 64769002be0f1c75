/** What every benchmark is given, and the shape each one has. */
import type { DockerApiBaseline } from './docker-baseline.js';
import type { PodmanBaseline } from './podman-baseline.js';
import type { BenchmarkResult } from './report.js';

export interface BenchContext {
  /** The smoke-test sizes (--quick): every code path once, no figure worth reading. */
  quick: boolean;
  /** Unique per run: names and labels of what the run makes. */
  runId: string;
  docker: DockerApiBaseline;
  /** Podman, or why it cannot run here. */
  podman: { baseline: PodmanBaseline; version: string } | { reason: string };
  /** A progress line on stderr. */
  progress(message: string): void;
}

export interface Benchmark {
  id: string;
  title: string;
  run(context: BenchContext): Promise<BenchmarkResult>;
}

/** The full size, or the quick one. */
export const size = <T>(context: BenchContext, full: T, quick: T): T => (context.quick ? quick : full);

/**
 * The exec probe (pkg/probe/exec): the command runs in the container through the runtime; exit 0
 * succeeds, any other exit fails with the command's output, and a command still running at
 * timeoutSeconds fails (the kubelet's ExecProbeTimeout, on by default). The command gets the
 * container's own environment, not the pod's env or downward API (as upstream).
 */
import { ExecTimeoutError, type ContainerRuntime } from '../runtime/runtime.js';
import { MaxProbeOutputBytes, type ProbeRun } from './probe-run.js';

export async function execProbe(runtime: ContainerRuntime, containerId: string, command: readonly string[], timeoutMs: number): Promise<ProbeRun> {
  try {
    const { exitCode, output } = await runtime.execSync(containerId, command, { timeoutMs, maxOutputBytes: MaxProbeOutputBytes });
    return { result: exitCode === 0 ? 'Success' : 'Failure', output };
  } catch (err) {
    if (err instanceof ExecTimeoutError) return { result: 'Failure', output: err.message };
    throw err;
  }
}

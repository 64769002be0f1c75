/**
 * A process's exit code once its output has ended. Docker ends the output when the process
 * closes it, and records the exit a moment later, so the state is asked a few times; a process
 * still running after that closed its output (or only the connection ended) and has no code yet.
 */
import { delay } from '../../../common/util/clock.js';

/** One look at a process, as Docker reports an exec (ExitCode null while it runs) or a container. */
export interface ProcessState {
  running: boolean;
  exitCode: number | null;
}

const Polls = 50;
const PollMs = 10;

export async function exitCodeAfterOutput(state: () => Promise<ProcessState>): Promise<number | undefined> {
  for (let poll = 0; poll < Polls; poll++) {
    const { running, exitCode } = await state();
    if (!running && exitCode !== null) return exitCode;
    await delay(PollMs);
  }
  return undefined;
}

/**
 * How dockerlet runs iptables, iptables-save, iptables-restore, sysctl and conntrack (the proxy's
 * datapath, the agent's pod network rules): behind a small interface, so unit tests check the
 * exact commands without root, and tests on real iptables run every command inside a network
 * namespace of their own.
 */
import { spawn } from 'node:child_process';

export interface CommandResult {
  stdout: string;
  stderr: string;
  /** The exit code; 127 when the command could not be started (not installed). */
  code: number;
}

export interface CommandRunner {
  /** Runs `command` with `args` (no shell), feeding `stdin` if given. Never rejects for a failing command. */
  run(command: string, args: readonly string[], stdin?: string): Promise<CommandResult>;
}

export interface ExecCommandRunnerOptions {
  /** Runs every command as `ip netns exec <netns> <command> ...`: tests use a namespace of their own. */
  netns?: string;
}

/** The real runner, on node:child_process. */
export class ExecCommandRunner implements CommandRunner {
  readonly #netns: string | undefined;

  constructor(options: ExecCommandRunnerOptions = {}) {
    this.#netns = options.netns;
  }

  run(command: string, args: readonly string[], stdin?: string): Promise<CommandResult> {
    const [file, argv] = this.#netns === undefined ? [command, [...args]] : ['ip', ['netns', 'exec', this.#netns, command, ...args]];
    return new Promise((resolve) => {
      const child = spawn(file, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let startError: Error | undefined;
      child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      child.on('error', (err) => {
        startError = err;
      });
      // A command that exits without reading its input must not fail the write with EPIPE.
      child.stdin.on('error', () => undefined);
      child.on('close', (code, signal) => {
        const err = Buffer.concat(stderr).toString('utf8');
        resolve({
          stdout: Buffer.concat(stdout).toString('utf8'),
          stderr: startError ? `${err}${startError.message}` : err,
          code: startError ? 127 : (code ?? (signal ? 128 : 1)),
        });
      });
      child.stdin.end(stdin ?? '');
    });
  }
}

/** "iptables -w -t nat -C ..." for logs and error messages. */
export function formatCommand(command: string, args: readonly string[]): string {
  return [command, ...args].map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
}

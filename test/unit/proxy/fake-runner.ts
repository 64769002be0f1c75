/** A CommandRunner that records every command and answers from a script: no root, no iptables. */
import type { CommandResult, CommandRunner } from '../../../common/util/command-runner.js';

export interface RecordedCommand {
  command: string;
  args: string[];
  stdin: string | undefined;
}

/** Answers one command, or undefined to fall through to the next responder (finally: exit 0, no output). */
export type Responder = (command: string, args: readonly string[], stdin: string | undefined) => Partial<CommandResult> | undefined;

export class FakeRunner implements CommandRunner {
  readonly calls: RecordedCommand[] = [];
  readonly #responders: Responder[] = [];
  readonly #gates = new Map<string, Promise<void>>();

  /** Later responders are asked first. */
  on(responder: Responder): this {
    this.#responders.unshift(responder);
    return this;
  }

  /** Answers `command` whose arguments start with `prefix`. */
  when(command: string, prefix: readonly string[], result: Partial<CommandResult>): this {
    return this.on((c, args) => (c === command && prefix.every((p, i) => args[i] === p) ? result : undefined));
  }

  /** Holds every run of `command` until the returned function is called. */
  hold(command: string): () => void {
    let release!: () => void;
    this.#gates.set(command, new Promise<void>((resolve) => (release = resolve)));
    return () => {
      this.#gates.delete(command);
      release();
    };
  }

  async run(command: string, args: readonly string[], stdin?: string): Promise<CommandResult> {
    this.calls.push({ command, args: [...args], stdin });
    await (this.#gates.get(command) ?? Promise.resolve());
    for (const responder of this.#responders) {
      const result = responder(command, args, stdin);
      if (result) return { stdout: '', stderr: '', code: 0, ...result };
    }
    return { stdout: '', stderr: '', code: 0 };
  }

  /** The calls as "command arg arg ..." lines (stdin left out). */
  lines(): string[] {
    return this.calls.map((c) => [c.command, ...c.args].join(' '));
  }

  clear(): void {
    this.calls.length = 0;
  }
}

/** A pino logger that keeps its JSON lines in memory, so tests can assert on events and errors. */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export interface LogLine {
  level: number;
  msg: string;
  component?: string;
  event?: string;
  [key: string]: unknown;
}

export interface MemoryLogger {
  logger: Logger;
  lines: LogLine[];
  /** Lines whose `event` field is `reason` (kubelet Events). */
  events(reason?: string): LogLine[];
}

export function memoryLogger(level: pino.LevelWithSilent = 'debug'): MemoryLogger {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString('utf8').split('\n')) if (text) lines.push(JSON.parse(text) as LogLine);
      done();
    },
  });
  return {
    logger: pino({ level }, sink),
    lines,
    events: (reason) => lines.filter((line) => line.event !== undefined && (reason === undefined || line.event === reason)),
  };
}

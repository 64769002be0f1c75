/**
 * The process's logger: JSON lines (the default, for machines) or text (for people), on stderr.
 * pino-pretty is loaded only for text: a node logging JSON does not carry it.
 */
import { pino, type Logger } from 'pino';

export type LoggingFormat = 'json' | 'text';

/** The kubelet's -v levels: 0-1 info, 2-4 debug, 5 and up trace. */
export function levelForVerbosity(verbosity: number): 'info' | 'debug' | 'trace' {
  if (verbosity >= 5) return 'trace';
  return verbosity >= 2 ? 'debug' : 'info';
}

export async function createLogger(format: LoggingFormat, verbosity: number): Promise<Logger> {
  const options = { level: levelForVerbosity(verbosity), base: { pid: process.pid } };
  if (format === 'json') return pino(options, pino.destination({ fd: 2, sync: false }));
  const { PinoPretty } = await import('pino-pretty');
  return pino(
    options,
    PinoPretty({
      destination: 2,
      colorize: process.stderr.isTTY,
      singleLine: true,
      ignore: 'pid,hostname,component',
      messageFormat: '{if component}[{component}] {end}{msg}',
      sync: true,
    }),
  );
}

/** The process's logger: JSON lines (the default, for machines) or text (for people), on stderr. */
import { pino, type Logger } from 'pino';
import { PinoPretty } from 'pino-pretty';

export type LoggingFormat = 'json' | 'text';

/** The kubelet's -v levels: 0-1 info, 2-4 debug, 5 and up trace. */
export function levelForVerbosity(verbosity: number): 'info' | 'debug' | 'trace' {
  if (verbosity >= 5) return 'trace';
  return verbosity >= 2 ? 'debug' : 'info';
}

export function createLogger(format: LoggingFormat, verbosity: number): Logger {
  const options = { level: levelForVerbosity(verbosity), base: { pid: process.pid } };
  if (format === 'json') return pino(options, pino.destination({ fd: 2, sync: false }));
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

/** Readable logs with levels, one line each, to standard error. */

/** Log levels, most severe first. */
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A logger. */
export interface Logger {
  readonly level: LogLevel;
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

/** A logger that writes lines at or above `level` (default: to standard error). */
export function createLogger(level: LogLevel = 'info', write: (line: string) => void = (line) => process.stderr.write(line + '\n')): Logger {
  const rank = LOG_LEVELS.indexOf(level);
  const at = (name: LogLevel) => (message: string) => {
    if (LOG_LEVELS.indexOf(name) <= rank) write(`${new Date().toISOString()} ${name.padEnd(5)} ${message}`);
  };
  return { level, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

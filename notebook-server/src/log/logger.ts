// The one logger: levels error < warn < info < debug, written to stderr only
// (stdout carries MCP over stdio and command results). The level comes from
// the configuration (PERAGUS_LOG_LEVEL); the composition roots make one
// logger and pass it down.

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Logger {
  readonly level: LogLevel;
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
  /** A logger whose lines start with `prefix` (e.g. "[peragus http] "). */
  child(prefix: string): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go (default: process.stderr). Never stdout. */
  write?: (line: string) => void;
  prefix?: string;
}

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const prefix = options.prefix ?? '';
  const at =
    (l: LogLevel) =>
    (message: string): void => {
      if (RANK[l] <= RANK[level]) write(`${prefix}${message}${message.endsWith('\n') ? '' : '\n'}`);
    };
  return {
    level,
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    child: (more) => createLogger({ level, write, prefix: `${prefix}${more}` }),
  };
}

/** Adapts a logger to the `(message) => void` callbacks older modules take (info level). */
export const logFn =
  (logger: Logger, level: LogLevel = 'info') =>
  (message: string): void =>
    logger[level](message);

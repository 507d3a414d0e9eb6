// What every command gets from cli.ts: the settings parsed once at start and
// the logger at their level (stderr only; stdout is the command's result or MCP).
import { type Config, loadConfig } from '../config/index.ts';
import { createLogger, type Logger } from '../log/index.ts';

export interface CliContext {
  config: Config;
  log: Logger;
}

/** The context of this process: loadConfig() of its environment, and a logger at PERAGUS_LOG_LEVEL. */
export function cliContext(env: NodeJS.ProcessEnv = process.env): CliContext {
  const config = loadConfig(env);
  return { config, log: createLogger({ level: config.logLevel }) };
}

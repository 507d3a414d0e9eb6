// Where Peragus keeps its state (experiments, store, catalog).
import { homedir } from 'node:os';
import { join } from 'node:path';

/** PERAGUS_HOME, or ~/.peragus. */
export function peragusHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.PERAGUS_HOME && env.PERAGUS_HOME.trim() !== '' ? env.PERAGUS_HOME : join(homedir(), '.peragus');
}

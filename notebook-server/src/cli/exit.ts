// How a failed command ends the process: a message that names the fix. Shared
// by the CLI (cli.ts) and the node role's startup snapshot (cli/node-snapshot.ts),
// which runs the `node` command without cli.ts.
import { ConfigError } from '../config/index.ts';

/** Exit code 1 (2 for bad arguments) with the message; a handle left open by a failed start never keeps the process alive. */
export function failCommand(command: string | undefined, err: unknown): void {
  const e = err as { code?: string; message?: string };
  // node:util parseArgs: an unknown or malformed option.
  if (typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`peragus ${command}: ${e.message}\n  see: peragus ${command} --help\n`);
    process.exitCode = 2;
    return;
  }
  const fix = err instanceof ConfigError ? `\n  fix: ${err.fix}` : '';
  process.stderr.write(`peragus: ${err instanceof Error ? err.message : String(err)}${fix}\n`);
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 1000).unref();
}

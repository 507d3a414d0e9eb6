// peragus serve | mcp | node | run | rerun | catalog | kernelspec
// Each command lives in its own module under cli/; this file only dispatches,
// answers --help/--version, and turns errors into messages that name the fix.
import { type CliContext, cliContext } from './cli/context.ts';
import { commandHelp, usage } from './cli/help.ts';
import { ConfigError, settingsHelp } from './config/index.ts';
import { SERVER_VERSION } from './mcp/server.ts';

type Command = (argv: string[], cli: CliContext) => Promise<number | undefined>;

const commands: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./cli/serve.ts')).serveCommand,
  mcp: async () => (await import('./cli/mcp.ts')).mcpCommand,
  node: async () => (await import('./cli/node.ts')).nodeCommand,
  run: async () => (await import('./cli/run.ts')).runCommand,
  rerun: async () => (await import('./cli/rerun.ts')).rerunCommand,
  catalog: async () => (await import('./cli/catalog.ts')).catalogCommand,
  kernelspec: async () => (await import('./cli/kernelspec.ts')).kernelspecCommand,
};

let current: string | undefined;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    process.stdout.write(topic && commandHelp[topic] ? commandHelp[topic] : `${usage}\n${settingsHelp()}`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(`peragus ${SERVER_VERSION}\n`);
    return 0;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`peragus: unknown command "${name}"\n\n${usage}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(commandHelp[name] ?? usage);
    return 0;
  }
  current = name;
  // The settings, parsed once for the whole command; a bad one stops it here, named.
  const cli = cliContext();
  const command = await load();
  return (await command(rest, cli)) ?? 0;
}

/** Exit code 1 with the message; a handle left open by a failed start never keeps the process alive. */
function fail(err: unknown): void {
  const e = err as { code?: string; message?: string };
  // node:util parseArgs: an unknown or malformed option.
  if (typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`peragus ${current}: ${e.message}\n  see: peragus ${current} --help\n`);
    process.exitCode = 2;
    return;
  }
  const fix = err instanceof ConfigError ? `\n  fix: ${err.fix}` : '';
  process.stderr.write(`peragus: ${err instanceof Error ? err.message : String(err)}${fix}\n`);
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 1000).unref();
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
}, fail);

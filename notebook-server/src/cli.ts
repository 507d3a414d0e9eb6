// peragus serve | mcp | node | run | rerun | catalog | kernelspec
// Each command lives in its own module under cli/; this file only dispatches,
// answers --help/--version, and turns errors into messages that name the fix.
import { type CliContext, cliContext } from './cli/context.ts';
import { failCommand } from './cli/exit.ts';
import { commandHelp, usage } from './cli/help.ts';
import { settingsHelp } from './config/index.ts';
import { PERAGUS_VERSION } from './version.ts';

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
    process.stdout.write(`peragus ${PERAGUS_VERSION}\n`);
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

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => failCommand(current, err),
);

// peragus serve | mcp | node | run | rerun | export | catalog
// Each command lives in its own module under cli/; this file only dispatches.

const usage = `usage: peragus <command> [options]

commands:
  serve [--port 4300] [--host 127.0.0.1]      host: browser UI, Jupyter /api subset, MCP at /mcp
  mcp                                         host MCP server on stdio
  node --socket PATH --work-dir DIR           in-container notebook server (MCP on a Unix socket)
  run PLAN.json [--parallel K]                run a plan of experiments, print a summary table
  rerun NOTEBOOK.src.md                       replay an exported notebook, compare artifact checksums
  catalog query "SQL"                         query the results catalog
`;

type Command = (argv: string[]) => Promise<number | undefined>;

const commands: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./cli/serve.ts')).serveCommand,
  mcp: async () => (await import('./cli/mcp.ts')).mcpCommand,
  node: async () => (await import('./cli/node.ts')).nodeCommand,
  run: async () => (await import('./cli/run.ts')).runCommand,
  rerun: async () => (await import('./cli/rerun.ts')).rerunCommand,
  catalog: async () => (await import('./cli/catalog.ts')).catalogCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage);
    return name === undefined ? 2 : 0;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`peragus: unknown command "${name}"\n\n${usage}`);
    return 2;
  }
  const command = await load();
  return (await command(rest)) ?? 0;
}

// One-shot commands end the process once their output is flushed: a library's
// idle keep-alive socket (the Docker client's) must not hold a finished run open.
const ONE_SHOT = new Set(['run', 'rerun', 'catalog']);

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    if (ONE_SHOT.has(process.argv[2] ?? '')) process.stdout.write('', () => process.exit(code));
  },
  (err: unknown) => {
    process.stderr.write(`peragus: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);

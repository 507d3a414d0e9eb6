// `peragus serve [--port 4300] [--host 127.0.0.1]`: the host — browser UI,
// Jupyter /api subset, MCP Streamable HTTP at /mcp, WS events. Prints the URL
// with its token (PERAGUS_TOKEN, or a fresh random one), and writes both to
// the home's address file so the other commands find it (one host per home).
import { parseArgs } from 'node:util';
import { startServing } from '../hostlink/serving.ts';
import { logFn } from '../log/index.ts';
import type { CliContext } from './context.ts';

export async function serveCommand(argv: string[], cli: CliContext): Promise<number | undefined> {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string', default: '4300' }, host: { type: 'string', default: '127.0.0.1' } },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port ${values.port}: give a port number 0–65535 (0 picks a free one)`);
  const serving = await startServing({
    home: cli.config.home,
    port,
    listen: values.host,
    log: logFn(cli.log),
    config: cli.config,
    logger: cli.log,
  });
  const { server, addressFile } = serving;
  process.stdout.write(
    `peragus serving on ${server.url}\n  open: ${server.browserUrl}\n  MCP:  ${server.url}mcp (Authorization: Bearer <token>)\n  address and token: ${addressFile}\n`,
  );
  await new Promise<void>((done) => {
    process.once('SIGINT', () => done());
    process.once('SIGTERM', () => done());
  });
  await serving.close();
  return 0;
}

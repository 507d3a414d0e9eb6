// `peragus serve [--port 4300] [--host 127.0.0.1]`: the host — browser UI,
// Jupyter /api subset, MCP Streamable HTTP at /mcp, WS events. Prints the URL
// with its token (PERAGUS_TOKEN, or a fresh random one).
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { createHost } from '../app/host.ts';

/** Fails at once, with the fix, when the port is taken (before any kernel or plan starts). */
async function checkPortFree(port: number, host: string): Promise<void> {
  if (port === 0) return;
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(
              `port ${port} on ${host} is already in use (another peragus serve?): stop it, or pick another port with --port N (0 picks a free one)`,
            )
          : err,
      ),
    );
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

export async function serveCommand(argv: string[]): Promise<number | undefined> {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string', default: '4300' }, host: { type: 'string', default: '127.0.0.1' } },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port ${values.port} is not a port number`);
  await checkPortFree(port, values.host);
  const host = await createHost();
  // Loaded after the checks above, so a failed start fails fast.
  const { remoteSessions } = await import('../app/remote-sessions.ts');
  const { startHostServer } = await import('../http/server.ts');
  const { createMcpHttpHandler } = await import('../mcp/http.ts');
  const token = process.env.PERAGUS_TOKEN || randomBytes(24).toString('hex');
  const server = await startHostServer({
    sessions: host.notebook.sessions,
    events: host.notebook.events,
    token,
    home: host.home,
    port,
    host: values.host,
    catalogQuery: async (sql, options) => {
      const r = await host.catalog.query(sql, options?.limit ? { rowLimit: options.limit } : {});
      return { columns: r.columns.map((c) => c.name), rows: r.rows, truncated: r.truncated };
    },
    listExperiments: async () => (await host.catalog.listExperiments({ limit: 1000 })).experiments,
    remote: remoteSessions(host.containers, host.router),
  }).catch(async (err: unknown) => {
    // e.g. the port is in use: stop what the host started, then fail the command.
    await host.close().catch(() => undefined);
    throw err;
  });
  const origins = [`http://127.0.0.1:${server.port}`, `http://localhost:${server.port}`];
  const mcp = createMcpHttpHandler(() => host.makeMcpServer(), {
    token,
    allowedHosts: [`127.0.0.1:${server.port}`, `localhost:${server.port}`, `${values.host}:${server.port}`],
    allowedOrigins: origins,
  });
  server.attachMcp((req, res) => mcp.handle(req, res));
  process.stdout.write(
    `peragus serving on ${server.url}\n  open: ${server.browserUrl}\n  MCP:  ${server.url}mcp (Authorization: Bearer <token>)\n`,
  );
  await new Promise<void>((done) => {
    process.once('SIGINT', () => done());
    process.once('SIGTERM', () => done());
  });
  await mcp.close();
  await server.close();
  await host.close();
  return 0;
}

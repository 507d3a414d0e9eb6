// `peragus serve [--port 4300] [--host 127.0.0.1]`: the host — browser UI,
// Jupyter /api subset, MCP Streamable HTTP at /mcp, WS events. Prints the URL
// with its token (PERAGUS_TOKEN, or a fresh random one).
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createHost } from '../app/host.ts';
import { remoteSessions } from '../app/remote-sessions.ts';
import { createWorkbench } from '../app/workbench.ts';
import { startHostServer } from '../http/server.ts';
import { createMcpHttpHandler } from '../mcp/http.ts';

export async function serveCommand(argv: string[]): Promise<number | undefined> {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string', default: '4300' }, host: { type: 'string', default: '127.0.0.1' } },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port ${values.port} is not a port number`);
  const host = await createHost();
  const token = process.env.PERAGUS_TOKEN || randomBytes(24).toString('hex');
  const wb = await createWorkbench(host, (m) => process.stderr.write(`[peragus workbench] ${m}\n`));
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
    workbench: wb.workbench,
    containers: host.containers,
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
  await wb.close();
  await host.close();
  return 0;
}

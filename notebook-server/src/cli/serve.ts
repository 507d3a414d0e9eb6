// `peragus serve [--port 4300] [--host 127.0.0.1]`: the host — browser UI,
// Jupyter /api subset, MCP Streamable HTTP at /mcp, WS events. Prints the URL
// with its token (PERAGUS_TOKEN, or a fresh random one), and writes both to
// the home's address file so the other commands find it (one host per home).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { createHost } from '../app/host.ts';
import { remoteSessions } from '../app/remote-sessions.ts';
import { findHost, removeAddress, writeAddress } from '../hostlink/address.ts';
import { startHostServer } from '../http/server.ts';
import { createMcpHttpHandler } from '../mcp/http.ts';
import { SERVER_VERSION } from '../mcp/server.ts';
import { peragusHome } from '../runtime/paths.ts';

export async function serveCommand(argv: string[]): Promise<number | undefined> {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string', default: '4300' }, host: { type: 'string', default: '127.0.0.1' } },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port ${values.port} is not a port number`);
  const home = peragusHome();
  const existing = await findHost(home);
  if (existing.kind === 'live') {
    const { url, pid } = existing.address;
    throw new Error(
      `a host is already running on ${home}: ${url} (pid ${pid}). Use it (peragus mcp, run and catalog query ` +
        'find it), stop it first (Ctrl-C in its terminal, or kill ' +
        `${pid}), or set PERAGUS_HOME to another folder for a second host.`,
    );
  }
  if (existing.kind !== 'none') {
    process.stderr.write(`peragus: replacing the address file ${existing.path}: ${existing.reason}\n`);
  }
  const host = await createHost({ home });
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
    listPlans: () => host.plans.list(),
    remote: remoteSessions(host.containers, host.router),
  });
  const origins = [`http://127.0.0.1:${server.port}`, `http://localhost:${server.port}`];
  const mcp = createMcpHttpHandler(() => host.makeMcpServer(), {
    token,
    allowedHosts: [`127.0.0.1:${server.port}`, `localhost:${server.port}`, `${values.host}:${server.port}`],
    allowedOrigins: origins,
  });
  server.attachMcp((req, res) => mcp.handle(req, res));
  const addressFile = writeAddress(home, {
    url: server.url,
    token,
    pid: process.pid,
    hostname: hostname(),
    started_at: new Date().toISOString(),
    version: SERVER_VERSION,
  });
  process.on('exit', () => removeAddress(home));
  process.stdout.write(
    `peragus serving on ${server.url}\n  open: ${server.browserUrl}\n  MCP:  ${server.url}mcp (Authorization: Bearer <token>)\n  address and token: ${addressFile}\n`,
  );
  await new Promise<void>((done) => {
    process.once('SIGINT', () => done());
    process.once('SIGTERM', () => done());
  });
  removeAddress(home);
  await mcp.close();
  await server.close();
  await host.close();
  return 0;
}

// A serving host: the composed host (sessions, containers, catalog, plans)
// behind its HTTP face (browser UI, Jupyter /api, /events, MCP at /mcp), with
// its address and token in the home's address file. `peragus serve` runs one;
// so does `peragus mcp` (embedded) when no host runs on the home. Refuses to
// start beside a live host of the same home, naming it.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { createHost, type Host } from '../app/host.ts';
import { remoteSessions } from '../app/remote-sessions.ts';
import { createWorkbench } from '../app/workbench.ts';
import type { Config } from '../config/index.ts';
import { PeragusError } from '../errors/index.ts';
import { type HostServer, startHostServer } from '../http/server.ts';
import { ensureUiBuilt } from '../http/static.ts';
import type { Logger } from '../log/index.ts';
import { createMcpHttpHandler } from '../mcp/http.ts';
import { SERVER_VERSION } from '../mcp/server.ts';
import { findHost, type HostAddress, removeAddress, writeAddress } from './address.ts';
import { checkPortFree } from './port.ts';

export interface ServingOptions {
  home: string;
  port: number;
  /** Listen address (default 127.0.0.1). */
  listen?: string;
  log: (message: string) => void;
  /** The parsed settings (default: loadConfig() in createHost). */
  config?: Config;
  logger?: Logger;
  /**
   * Build a missing or stale browser UI after listening instead of before (an embedded host must
   * answer its MCP client's initialize quickly; the page appears when the build is done).
   */
  uiInBackground?: boolean;
}

export interface ServingHost {
  host: Host;
  server: HostServer;
  address: HostAddress;
  addressFile: string;
  close(): Promise<void>;
}

export class HostRunningError extends PeragusError {
  constructor(
    readonly home: string,
    readonly address: HostAddress,
  ) {
    super(
      'host_running',
      `a host is already running on ${home}: ${address.url} (pid ${address.pid}). Use it (peragus mcp, run and ` +
        `catalog query find it), stop it first (Ctrl-C in its terminal, or kill ${address.pid}), or set ` +
        'PERAGUS_HOME to another folder for a second host.',
    );
  }
}

export async function startServing(options: ServingOptions): Promise<ServingHost> {
  const { home, port, log } = options;
  const listen = options.listen ?? '127.0.0.1';
  const existing = await findHost(home);
  if (existing.kind === 'live') throw new HostRunningError(home, existing.address);
  if (existing.kind !== 'none')
    log(`peragus: replacing the address file ${existing.path}: ${existing.reason}`);

  await checkPortFree(port, listen);
  const host = await createHost({
    home,
    ...(options.config ? { config: options.config } : {}),
    ...(options.logger ? { log: options.logger } : {}),
  });
  const token = host.config.token ?? randomBytes(24).toString('hex');
  const wb = await createWorkbench(host, (m) => log(`[peragus workbench] ${m}`));
  const server = await startHostServer({
    logger: host.log,
    sessions: host.notebook.sessions,
    events: host.notebook.events,
    kernels: host.kernels,
    token,
    home: host.home,
    port,
    host: listen,
    ...(options.uiInBackground ? { buildUi: false } : {}),
    catalogQuery: async (sql, opts) => {
      const r = await host.catalog.query(sql, opts?.limit ? { rowLimit: opts.limit } : {});
      return { columns: r.columns.map((c) => c.name), rows: r.rows, truncated: r.truncated };
    },
    listExperiments: async () => (await host.catalog.listExperiments({ limit: 1000 })).experiments,
    remote: remoteSessions(host.containers, host.router),
    workbench: wb.workbench,
    containers: host.containers,
  }).catch(async (err: NodeJS.ErrnoException) => {
    // Stop what the host started, then fail the command.
    await wb.close().catch(() => undefined);
    await host.close().catch(() => undefined);
    if (err.code === 'EADDRINUSE') {
      throw new Error(`port ${port} is in use on ${listen}: pick another with --port N (0 picks a free one)`);
    }
    throw err;
  });
  const mcp = createMcpHttpHandler(() => host.makeMcpServer(), {
    token,
    allowedHosts: [`127.0.0.1:${server.port}`, `localhost:${server.port}`, `${listen}:${server.port}`],
    allowedOrigins: [`http://127.0.0.1:${server.port}`, `http://localhost:${server.port}`],
  });
  server.attachMcp((req, res) => mcp.handle(req, res));
  if (options.uiInBackground) {
    ensureUiBuilt(log).catch((err: Error) => log(`could not build the browser UI: ${err.message}`));
  }
  const address: HostAddress = {
    url: server.url,
    token,
    pid: process.pid,
    hostname: hostname(),
    started_at: new Date().toISOString(),
    version: SERVER_VERSION,
  };
  const addressFile = writeAddress(home, address);
  const onExit = () => removeAddress(home);
  process.on('exit', onExit);
  return {
    host,
    server,
    address,
    addressFile,
    async close() {
      removeAddress(home);
      process.off('exit', onExit);
      await mcp.close();
      await server.close();
      await wb.close();
      await host.close();
    },
  };
}

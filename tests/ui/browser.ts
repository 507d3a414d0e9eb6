// The workbench in headless Chromium against a real host (same wiring as
// `peragus serve`: sessions, catalog, plans, containers, the workbench and
// MCP over HTTP), in a temp PERAGUS_HOME.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type Browser, chromium, type Page } from 'playwright-core';
import { createHost, type Host } from '../../notebook-server/src/app/host.ts';
import { remoteSessions } from '../../notebook-server/src/app/remote-sessions.ts';
import { createWorkbench } from '../../notebook-server/src/app/workbench.ts';
import { type HostServer, startHostServer } from '../../notebook-server/src/http/server.ts';
import { createMcpHttpHandler, type McpHttpHandler } from '../../notebook-server/src/mcp/http.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = resolve('test-artifacts');
export const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  const msg = `${CHROMIUM} is missing: the browser UI tests cannot run (install Debian's chromium)`;
  if (process.env.CI) throw new Error(msg);
  console.warn(`\n!!!!!!!! SKIPPING UI TESTS: ${msg} !!!!!!!!\n`);
}

export type Json = Record<string, unknown>;

export interface BrowserHost {
  home: string;
  host: Host;
  server: HostServer;
  mcp: Client;
  browser: Browser;
  page: Page;
  token: string;
  call(name: string, args: Json): Promise<Json>;
  shot(name: string): Promise<void>;
  close(): Promise<void>;
}

export async function startBrowserHost(prefix: string, home?: string): Promise<BrowserHost> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const dir = home ?? mkdtempSync(join(tmpdir(), `peragus-${prefix}-`));
  const token = `${prefix}-token`;
  const host = await createHost({ home: dir, poolSize: 1, resumePlans: true });
  const wb = await createWorkbench(host);
  const server = await startHostServer({
    sessions: host.notebook.sessions,
    events: host.notebook.events,
    token,
    home: dir,
    port: 0,
    catalogQuery: async (sql, options) => {
      const r = await host.catalog.query(sql, options?.limit ? { rowLimit: options.limit } : {});
      return { columns: r.columns.map((c) => c.name), rows: r.rows, truncated: r.truncated };
    },
    listExperiments: async () => (await host.catalog.listExperiments({ limit: 10_000 })).experiments,
    remote: remoteSessions(host.containers, host.router),
    workbench: wb.workbench,
    containers: host.containers,
    log: () => {},
  });
  const handler: McpHttpHandler = createMcpHttpHandler(() => host.makeMcpServer(), {
    token,
    allowedHosts: [`127.0.0.1:${server.port}`],
    allowedOrigins: [],
  });
  server.attachMcp((req, res) => handler.handle(req, res));
  const mcp = new Client({ name: `${prefix}-agent`, version: '1' });
  await mcp.connect(
    new StreamableHTTPClientTransport(new URL('/mcp', server.url), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    }),
  );
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page.on('pageerror', (err) => console.error('[page error]', err));
  return {
    home: dir,
    host,
    server,
    mcp,
    browser,
    page,
    token,
    async call(name, args) {
      const r = await mcp.callTool({ name, arguments: args }, undefined, {
        timeout: 600_000,
        resetTimeoutOnProgress: true,
      });
      if (r.isError) throw new Error(`${name}: ${JSON.stringify(r.content)}`);
      return r.structuredContent as Json;
    },
    async shot(name) {
      await page.screenshot({ path: join(ARTIFACTS, `${prefix}-${name}.png`), fullPage: true });
    },
    async close() {
      await browser.close().catch(() => undefined);
      await mcp.close().catch(() => undefined);
      await handler.close();
      await server.close();
      await wb.close();
      for (const c of await host.containers.list().catch(() => [])) {
        await host.containers.destroy(c.container_id).catch(() => undefined);
      }
      await host.close();
      if (!home) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What one drawing of a plan view showed: each tile's state, and whether an ETA was shown. */
export interface PlanFrame {
  states: string[];
  eta: boolean;
}

export const ACTIVE_TILE = new Set(['provisioning', 'running', 'finishing']);

/**
 * Records every drawing of the plan view from now on (the page persists across
 * hash routes). A plan of sub-second experiments can pass through a state
 * between two of a test's own looks; the record still has it.
 */
export async function recordPlanFrames(page: Page): Promise<() => Promise<PlanFrame[]>> {
  await page.evaluate(() => {
    const w = window as unknown as { planFrames: unknown[] };
    w.planFrames = [];
    new MutationObserver(() => {
      const states = Array.from(
        document.querySelectorAll('.tiles .tile'),
        (t) => t.getAttribute('data-state') ?? '',
      );
      const eta = document.querySelector('.plan-progress .eta') !== null;
      if (states.length) w.planFrames.push({ states, eta });
    }).observe(document.body, { childList: true, subtree: true });
  });
  return () => page.evaluate(() => (window as unknown as { planFrames: PlanFrame[] }).planFrames);
}

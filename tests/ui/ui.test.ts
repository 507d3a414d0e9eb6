// The browser UI in headless Chromium against the real host (same wiring as
// `peragus serve`): an agent drives an experiment over MCP while the page
// watches its cells stream, a sweep is plotted, a cell is run from the page,
// edits flow both ways, and the catalog is queried and charted.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHost, type Host } from '../../notebook-server/src/app/host.ts';
import { type HostServer, startHostServer } from '../../notebook-server/src/http/server.ts';
import { createMcpHttpHandler, type McpHttpHandler } from '../../notebook-server/src/mcp/http.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = resolve('test-artifacts');
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  const msg = `${CHROMIUM} is missing: the browser UI tests cannot run (install Debian's chromium)`;
  if (process.env.CI) throw new Error(msg);
  console.warn(`\n!!!!!!!! SKIPPING UI TESTS: ${msg} !!!!!!!!\n`);
}

type Json = Record<string, unknown>;

let home: string;
let host: Host;
let server: HostServer;
let mcpHandler: McpHttpHandler;
let mcp: Client;
let browser: Browser;
let page: Page;
const token = 'ui-test-token';

async function call(name: string, args: Json): Promise<Json> {
  const r = await mcp.callTool({ name, arguments: args }, undefined, {
    timeout: 300_000,
    resetTimeoutOnProgress: true,
  });
  if (r.isError) throw new Error(`${name}: ${JSON.stringify(r.content)}`);
  return r.structuredContent as Json;
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `ui-${name}.png`), fullPage: true });
}

describe.skipIf(!hasChromium)('browser UI', () => {
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    home = mkdtempSync(join(tmpdir(), 'peragus-ui-'));
    host = await createHost({ home, poolSize: 1, resumePlans: false });
    server = await startHostServer({
      sessions: host.notebook.sessions,
      events: host.notebook.events,
      token,
      home,
      port: 0,
      catalogQuery: async (sql, options) => {
        const r = await host.catalog.query(sql, options?.limit ? { rowLimit: options.limit } : {});
        return { columns: r.columns.map((c) => c.name), rows: r.rows, truncated: r.truncated };
      },
      log: () => {},
    });
    mcpHandler = createMcpHttpHandler(() => host.makeMcpServer(), {
      token,
      allowedHosts: [`127.0.0.1:${server.port}`],
      allowedOrigins: [],
    });
    server.attachMcp((req, res) => mcpHandler.handle(req, res));
    mcp = new Client({ name: 'ui-test-agent', version: '1' });
    await mcp.connect(
      new StreamableHTTPClientTransport(new URL('/mcp', server.url), {
        requestInit: { headers: { Authorization: `Bearer ${token}` } },
      }),
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (err) => console.error('[page error]', err));
  });

  afterAll(async () => {
    await browser?.close();
    await mcp?.close().catch(() => {});
    await mcpHandler?.close();
    await server?.close();
    await host?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('watches an MCP-driven sweep stream into the notebook, plots it, and runs a cell from the page', async () => {
    await page.goto(`${server.url}?token=${token}`);
    await page.waitForSelector('#conn.online');
    // The token moved to sessionStorage and left the address bar.
    expect(page.url()).not.toContain('token=');
    await shot('01-empty-list');

    const nb = await call('notebook_create', { name: 'sir-sweep' });
    const sid = nb.session_id as string;
    // Appears live in the experiments list.
    await page.waitForSelector(`tr[data-session-id="${sid}"]`);
    await page.click(`tr[data-session-id="${sid}"] a`);
    await page.waitForSelector('.nb-header h1:has-text("sir-sweep")');

    const loaded = await call('pysd_model_load', {
      session_id: sid,
      source: 'models/sir.mdl',
      content: readFileSync(resolve('notebooks/models/sir.mdl'), 'utf8'),
    });
    await page.waitForSelector('.cell[data-status="ok"]');
    const run = call('pysd_experiment_run', {
      session_id: sid,
      model_id: loaded.model_id,
      experiment: {
        type: 'sweep',
        parameters: { 'Contact Rate': { values: [3, 5, 7, 9] } },
        final_time: 60,
        metrics: [{ variable: 'Infected', stat: 'max' }],
      },
    });
    // The agent's second cell shows up while it runs or right after.
    await page.waitForFunction(() => document.querySelectorAll('.cell').length >= 2);
    const result = await run;
    expect(result.run_count).toBe(4);
    // The result's runs table becomes a uPlot chart: one line per run.
    await page.waitForSelector('.sweep-chart .uplot canvas', { timeout: 60_000 });
    const legend = await page.locator('.sweep-chart .u-legend .u-series').allTextContents();
    expect(legend.filter((t) => /Contact Rate|contact_rate|run/i.test(t)).length).toBeGreaterThanOrEqual(4);
    await page.locator('.sweep').first().scrollIntoViewIfNeeded();
    await shot('02-sweep-plot');

    // Run a cell from the page (Shift+Enter in a new cell).
    const before = await page.locator('.cell').count();
    await page.click('button:has-text("+ Code")');
    await page.waitForFunction((n) => document.querySelectorAll('.cell').length > n, before);
    const editor = page.locator('.cell').last().locator('textarea');
    await editor.fill('print("from the page", 6 * 7)');
    await editor.press('Shift+Enter');
    await page
      .waitForSelector('.cell:last-child .out-stream pre:has-text("from the page 42")', { timeout: 60_000 })
      .catch(async (err: Error) => {
        await shot('03-failed');
        throw err;
      });
    await shot('03-ran-from-page');

    // The agent sees the page's cell; the page sees the agent's new cell.
    const state = (await call('notebook_export', { session_id: sid, format: 'json', inline: true })) as Json;
    expect(JSON.stringify(state)).toContain('from the page');
    await call('cell_add', { session_id: sid, source: 'agent_marker = 1', execute: true });
    await page.waitForSelector('.cell textarea >> nth=-1');
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll('.cell textarea')).some(
        (t) => (t as HTMLTextAreaElement).value === 'agent_marker = 1',
      ),
    );
    await shot('04-agent-cell');
  });

  it('queries the catalog and charts metrics per experiment', async () => {
    for (const [i, v] of [
      [1, 120],
      [2, 480],
      [3, 950],
    ] as const) {
      // A result is registered from a session of its own experiment (lineage is checked).
      const nb = await call('notebook_create', { name: `ui-exp-${i}`, experiment_id: `ui-exp-${i}` });
      await call('experiment_register_result', {
        experiment_id: `ui-exp-${i}`,
        session_id: nb.session_id,
        metrics: { max_infected: v, peak_day: 10 + i },
      });
    }
    await page.goto(`${server.url}#/catalog`);
    await page.fill(
      'textarea.sql',
      'SELECT experiment_id, name, value FROM metrics ORDER BY experiment_id, name',
    );
    await page.click('button.run-query');
    await page.waitForSelector('.catalog-chart .uplot canvas');
    await page.waitForSelector('table.results td:has-text("ui-exp-3")');
    expect(await page.locator('table.results tbody tr').count()).toBe(6);
    await shot('05-catalog');
  });
});

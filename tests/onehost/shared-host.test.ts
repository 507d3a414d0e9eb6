// One host, every face: `peragus serve` runs; a desktop-style MCP client
// starts `peragus mcp` on the same home (the official SDK client over stdio).
// The agent's experiment, its live events and its catalog row show up in the
// browser API and on /events; `peragus catalog query` and `peragus run` work
// meanwhile through the host; a second host on the home is refused naming the
// first; when the host dies the client sees its connection close.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { REPO } from '../helpers/sd-models.ts';
import { waitFor } from '../helpers/wait.ts';
import { api, BIN, peragus, type ServeProcess, startServe } from './helpers.ts';

const home = mkdtempSync(join(tmpdir(), 'peragus-onehost-'));
// Plans of more than 2 experiments ask the user (MCP elicitation) first.
const env = {
  ...process.env,
  PERAGUS_HOME: home,
  PERAGUS_POOL_SIZE: '0',
  PERAGUS_PLAN_APPROVE_EXPERIMENTS: '2',
};
const asked: string[] = [];
let serve: ServeProcess;
let client: Client;
let transport: StdioClientTransport;
let bridgeErr = '';
const events: { type: string; session_id: string; experiment_id: string }[] = [];
let eventsWs: WebSocket;

type Json = Record<string, unknown>;
const LONG = { timeout: 600_000, resetTimeoutOnProgress: true };
async function call(name: string, args: Json): Promise<Json> {
  const r = await client.callTool({ name, arguments: args }, undefined, LONG);
  if (r.isError) throw new Error(`${name}: ${JSON.stringify(r.content)}`);
  return r.structuredContent as Json;
}

beforeAll(async () => {
  serve = await startServe(env);
  const wsUrl = `${serve.address.url.replace(/^http/, 'ws')}events?token=${serve.address.token}`;
  eventsWs = new WebSocket(wsUrl);
  eventsWs.on('message', (d) => events.push(JSON.parse(String(d))));
  await new Promise((r, j) => eventsWs.once('open', r).once('error', j));
  transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, 'mcp'],
    env: env as Record<string, string>,
    stderr: 'pipe',
  });
  transport.stderr?.on('data', (d) => {
    bridgeErr += String(d);
  });
  client = new Client(
    { name: 'desktop-like', version: '1' },
    { capabilities: { elicitation: { form: {} } } },
  );
  client.setRequestHandler(ElicitRequestSchema, async (req) => {
    asked.push(req.params.message);
    return { action: 'decline' };
  });
  await client.connect(transport);
}, 300_000);

afterAll(async () => {
  eventsWs?.close();
  await client?.close().catch(() => undefined);
  if (serve && serve.proc.exitCode === null) {
    serve.proc.kill('SIGTERM');
    await serve.exited;
  }
  rmSync(home, { recursive: true, force: true });
});

describe('one host per home', () => {
  it('writes its address and token to a 0600 file the bridge uses', () => {
    const st = statSync(join(home, 'host.json'));
    expect(st.mode & 0o777).toBe(0o600);
    expect(serve.address.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(bridgeErr).toContain(`using the host of ${home} (pid ${serve.address.pid})`);
    expect(bridgeErr).toContain(serve.address.url);
  });

  it("the agent's experiment, events and catalog row are visible in the browser API", async () => {
    const progress: number[] = [];
    const nb = await call('notebook_create', { name: 'agent-teacup', experiment_id: 'agent-1' });
    const sid = nb.session_id as string;
    const loaded = await call('pysd_model_load', {
      session_id: sid,
      source: 'models/sir.mdl',
      content: readFileSync(join(REPO, 'notebooks/models/sir.mdl'), 'utf8'),
    });
    const r = await client.callTool(
      {
        name: 'pysd_experiment_run',
        arguments: {
          session_id: sid,
          model_id: loaded.model_id,
          experiment: {
            type: 'monte_carlo',
            samples: 8,
            seed: 2,
            parameters: { Infectivity: { dist: 'uniform', min: 0.03, max: 0.1 } },
            metrics: [{ variable: 'Infected', stat: 'max' }],
          },
        },
      },
      undefined,
      { ...LONG, onprogress: (p) => progress.push(p.progress) },
    );
    expect(r.isError).toBeFalsy();
    expect(progress.length).toBeGreaterThan(0); // progress crosses the bridge
    const run = r.structuredContent as Json;
    const artifacts = (run.artifacts as { path: string; sha256: string }[]).map(({ path, sha256 }) => ({
      path,
      sha256,
    }));
    const reg = await call('experiment_register_result', {
      experiment_id: 'agent-1',
      session_id: sid,
      artifacts,
      metrics: { peak: 1 },
    });
    expect(reg.outcome).toBe('registered');

    const sessions = await api<{ id: string; experiment_id: string; cell_count: number }[]>(
      serve.address,
      '/ui-api/sessions',
    );
    const mine = sessions.find((s) => s.id === sid);
    expect(mine?.experiment_id).toBe('agent-1');
    expect(mine?.cell_count).toBeGreaterThanOrEqual(2);
    const detail = await api<{ cells: unknown[]; progress: { total: number } | null }>(
      serve.address,
      `/ui-api/sessions/${sid}`,
    );
    expect(detail.cells.length).toBe(mine?.cell_count);
    expect(detail.progress?.total).toBe(8);

    const experiments = await api<{ experiment_id: string; status?: string; session_ids: string[] }[]>(
      serve.address,
      '/ui-api/experiments',
    );
    expect(experiments.find((e) => e.experiment_id === 'agent-1')).toMatchObject({
      status: 'finished',
      session_ids: [sid],
    });
    const q = await api<{ rows: Json[] }>(serve.address, '/ui-api/catalog/query', {
      sql: "SELECT experiment_id, status FROM experiments WHERE experiment_id = 'agent-1'",
    });
    expect(q.rows).toEqual([{ experiment_id: 'agent-1', status: 'finished' }]);

    // Live: the browser's /events socket saw the agent's cells run.
    await waitFor('the completed cells on /events', () =>
      events.filter((e) => e.session_id === sid && e.type === 'notebook.cell.completed').length >= 2
        ? true
        : undefined,
    );
    expect(events.some((e) => e.session_id === sid && e.type === 'experiment.progress')).toBe(true);
  }, 600_000);

  it('peragus catalog query and peragus run work through the host meanwhile', async () => {
    const q = await peragus(
      ['catalog', 'query', "SELECT experiment_id, status FROM experiments WHERE experiment_id = 'agent-1'"],
      env,
    );
    expect(q.stderr).not.toMatch(/in use/);
    expect(q.code).toBe(0);
    expect(q.stdout).toMatch(/agent-1\s+finished/);

    const planFile = join(home, 'plan.json');
    writeFileSync(
      planFile,
      JSON.stringify({
        model: { source: join(REPO, 'notebooks/models/sir.mdl') },
        experiment: { type: 'single', metrics: [{ variable: 'Infected', stat: 'max' }] },
        // Three at K = 1: a single SIR run takes well under a second, and the plan must
        // stay running long enough for the poll below to see it.
        targets: [{ 'Contact Rate': 6 }, { 'Contact Rate': 7 }, { 'Contact Rate': 8 }],
        parallel_limit: 1,
      }),
    );
    const running = peragus(['run', planFile, '--json'], env);
    // Live: while it runs, the browser API lists the plan as running with its progress.
    const live = await waitFor(
      'the running plan in /ui-api/plans',
      async () => {
        const list = await api<{ plan_id: string; status: string; progress: { total: number } | null }[]>(
          serve.address,
          '/ui-api/plans',
        );
        return list.find((p) => p.status === 'running' && p.progress !== null);
      },
      300_000,
      50,
    );
    expect(live.progress?.total).toBe(3);
    const run = await running;
    expect(run.stderr).toContain(`plan runs on the host ${serve.address.url}`);
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout) as { plan_id: string; experiments: { experiment_id: string }[] };
    const planExp = summary.experiments[0]?.experiment_id as string;

    // The host ran it: the browser lists the plan with its progress, its experiment, and saw its events.
    const plans = await api<{ plan_id: string; status: string; progress: { done: number; total: number } }[]>(
      serve.address,
      '/ui-api/plans',
    );
    expect(live.plan_id).toBe(summary.plan_id);
    expect(plans.find((p) => p.plan_id === summary.plan_id)).toMatchObject({
      status: 'finished',
      progress: { done: 3, total: 3 },
    });
    const experiments = await api<{ experiment_id: string; status?: string }[]>(
      serve.address,
      '/ui-api/experiments',
    );
    expect(experiments.find((e) => e.experiment_id === planExp)?.status).toBe('finished');
    expect(events.some((e) => e.experiment_id === planExp && e.type === 'notebook.cell.completed')).toBe(
      true,
    );

    // The agent sees the plan's row too.
    const rows = await call('catalog_query', {
      sql: `SELECT status FROM experiments WHERE experiment_id = '${planExp}'`,
    });
    expect(rows.rows).toEqual([{ status: 'finished' }]);
  }, 600_000);

  it("the host's elicitation reaches the client through the bridge and its answer comes back", async () => {
    const r = await client.callTool({
      name: 'experiment_plan_run',
      arguments: {
        model: { source: 'sir.mdl', content: readFileSync(join(REPO, 'notebooks/models/sir.mdl'), 'utf8') },
        experiment: { type: 'single' },
        grid: { 'Contact Rate': [4, 5, 6] },
      },
    });
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatch(/3 experiments/);
    expect(r.isError).toBe(true);
    expect(JSON.stringify(r.content)).toMatch(/did not approve/);
  }, 120_000);

  it('a second host on the same home is refused, naming the running one', async () => {
    const second = await peragus(['serve', '--port', '0'], env, 120_000);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain(`a host is already running on ${home}: ${serve.address.url}`);
    // The first is unharmed.
    expect((await client.ping()) as unknown).toEqual({});
  }, 180_000);

  it('when the host dies, the bridge says so and the client sees the connection close', async () => {
    const closed = new Promise<void>((r) => {
      client.onclose = () => r();
    });
    serve.proc.kill('SIGKILL');
    await serve.exited;
    await closed;
    await waitFor('the bridge to report', () => (/stopped/.test(bridgeErr) ? true : undefined), 30_000);
    expect(bridgeErr).toContain(`the host ${serve.address.url} stopped`);
  }, 120_000);
});

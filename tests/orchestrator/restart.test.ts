// kill -9 of the host in the middle of a plan, then a restart: finished
// experiments stay registered, unfinished ones are resumed, nothing is
// registered twice, and no container (node process) is left orphaned.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from '../helpers/sd-models.ts';

type Json = Record<string, unknown>;
const home = mkdtempSync(join(tmpdir(), 'peragus-kill-'));
const clients: Client[] = [];

async function startHost(): Promise<{ client: Client; pid: number }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [join(REPO, 'bin/peragus.js'), 'mcp'],
    env: { ...process.env, PERAGUS_HOME: home, PERAGUS_POOL_SIZE: '0' } as Record<string, string>,
    stderr: 'inherit',
  });
  const client = new Client({ name: 'restart', version: '1' });
  await client.connect(transport);
  clients.push(client);
  return { client, pid: transport.pid as number };
}

async function call(client: Client, name: string, args: Json): Promise<Json> {
  const r = await client.callTool({ name, arguments: args }, undefined, { timeout: 600_000 });
  if (r.isError) throw new Error(`${name}: ${JSON.stringify(r.content)}`);
  return r.structuredContent as Json;
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Node-role processes serving experiments under this test's PERAGUS_HOME. */
function nodeProcesses(): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(' node --socket ') && l.includes(home));
}

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  rmSync(home, { recursive: true, force: true });
});

describe('host restart mid-plan', () => {
  it('keeps finished results, resumes the rest, duplicates nothing, orphans nothing', async () => {
    const first = await startHost();
    const started = await call(first.client, 'experiment_plan_run', {
      model: { source: 'sir.mdl', content: readFileSync(join(REPO, 'notebooks/models/sir.mdl'), 'utf8') },
      experiment: { type: 'single', metrics: [{ variable: 'Infected', stat: 'max' }] },
      targets: [4, 5, 6, 7, 8, 9].map((v) => ({ 'Contact Rate': v })),
      parallel_limit: 2,
      wait: false,
    });
    const planId = started.plan_id as string;
    const finishedCount = async (client: Client) => {
      const list = await call(client, 'experiment_list', { plan_id: planId, limit: 100 });
      return (list.experiments as Json[]).filter((e) => e.status === 'finished').length;
    };
    await waitFor(
      'two finished experiments',
      async () => ((await finishedCount(first.client)) >= 2 ? true : undefined),
      300_000,
    );
    process.kill(first.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));

    const second = await startHost();
    await waitFor(
      'all six finished',
      async () => ((await finishedCount(second.client)) === 6 ? true : undefined),
      600_000,
    );
    const perExperiment = await call(second.client, 'catalog_query', {
      sql: `SELECT experiment_id, count(*) AS n FROM artifacts WHERE experiment_id LIKE '${planId}%' GROUP BY 1 ORDER BY 1`,
    });
    const rows = perExperiment.rows as { n: number }[];
    expect(rows).toHaveLength(6);
    expect(new Set(rows.map((r) => r.n)).size).toBe(1); // the same artifact set once per experiment
    const metrics = await call(second.client, 'catalog_query', {
      sql: `SELECT experiment_id, name, count(*) AS n FROM metrics WHERE experiment_id LIKE '${planId}%' GROUP BY 1, 2 HAVING count(*) > 1`,
    });
    expect(metrics.rows).toHaveLength(0);
    await waitFor(
      'no orphan node processes',
      async () => (nodeProcesses().length === 0 ? true : undefined),
      30_000,
    );
    // Teardown of the last experiments may still be under way when their results are registered.
    await waitFor(
      'no containers left',
      async () =>
        ((await call(second.client, 'container_list', {})).containers as unknown[]).length === 0
          ? true
          : undefined,
      30_000,
    );
  }, 900_000);
});

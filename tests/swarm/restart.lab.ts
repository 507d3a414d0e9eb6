// kill -9 of the host mid-plan with PERAGUS_RUNTIME=swarm, then a restart on
// the same PERAGUS_HOME: as on one machine, finished experiments stay, the
// rest resume (the services the dead host left are destroyed, their hub
// tokens revoked), nothing is registered twice, nothing is left on the cluster.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, requireSdModels } from '../helpers/sd-models.ts';
import { type SwarmLab, swarmLab } from '../helpers/swarm-lab.ts';

type Json = Record<string, unknown>;
const home = mkdtempSync(join(tmpdir(), 'peragus-swarm-kill-'));
const clients: Client[] = [];
let lab: SwarmLab;

async function startHost(): Promise<{ client: Client; pid: number }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [join(REPO, 'bin/peragus.js'), 'mcp'],
    env: {
      ...process.env,
      ...lab.env,
      PERAGUS_HOME: home,
      PERAGUS_POOL_SIZE: '0',
      PERAGUS_RUNTIME: 'swarm',
      PERAGUS_SWARM_IMAGE: lab.image,
    } as Record<string, string>,
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

beforeAll(() => {
  lab = swarmLab();
});

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  rmSync(home, { recursive: true, force: true });
});

describe('host restart mid-plan on the swarm', () => {
  it('keeps finished results, resumes the rest, duplicates nothing, leaves nothing on the cluster', async () => {
    const teacup = readFileSync(join(requireSdModels()!, 'samples/teacup/teacup_mdl.mdl'), 'utf8');
    const first = await startHost();
    const started = await call(first.client, 'experiment_plan_run', {
      model: { source: 'teacup.mdl', content: teacup },
      experiment: { type: 'single', metrics: [{ variable: 'Teacup Temperature', stat: 'min' }] },
      targets: [5, 8, 11, 14, 17, 20].map((v) => ({ 'Characteristic Time': v })),
      parallel_limit: 3,
      resources: { cpu: 0.5, memory: '1g' },
      wait: false,
    });
    const planId = started.plan_id as string;
    const finishedCount = async (client: Client) => {
      const list = await call(client, 'experiment_list', { plan_id: planId, limit: 100 });
      return (list.experiments as Json[]).filter((e) => e.status === 'finished').length;
    };
    await waitFor(
      'two finished',
      async () => ((await finishedCount(first.client)) >= 2 ? true : undefined),
      600_000,
    );
    process.kill(first.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));

    const second = await startHost();
    await waitFor(
      'all six finished',
      async () => ((await finishedCount(second.client)) === 6 ? true : undefined),
      900_000,
    );
    const perExperiment = await call(second.client, 'catalog_query', {
      sql: `SELECT experiment_id, count(*) AS n, any_value(e.node) AS node FROM artifacts JOIN experiments e USING (experiment_id)
            WHERE experiment_id LIKE '${planId}%' GROUP BY 1 ORDER BY 1`,
    });
    const rows = perExperiment.rows as { n: number; node: string | null }[];
    expect(rows).toHaveLength(6);
    expect(new Set(rows.map((r) => r.n)).size).toBe(1);
    expect(rows.every((r) => r.node !== null)).toBe(true);
    await waitFor(
      'no services left on the cluster, no hub token left',
      async () => {
        const services = await lab.manager.listServices({
          filters: JSON.stringify({ label: [`plan=${planId}`] }),
        });
        const tokens = JSON.parse(readFileSync(join(home, 'hub', 'tokens.json'), 'utf8')) as Json;
        return services.length === 0 && Object.keys(tokens).length === 0 ? true : undefined;
      },
      60_000,
    );
  }, 1_800_000);
});

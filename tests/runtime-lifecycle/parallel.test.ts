// 8 experiments in 8 Docker containers at once, with no cross-talk: each
// experiment's registered Parquet holds only its own parameter value.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHost, type Host } from '../../notebook-server/src/app/host.ts';
import { dockerTestsEnabled } from '../helpers/docker.ts';
import { REPO } from '../helpers/sd-models.ts';

type Json = Record<string, unknown>;
const withDocker = dockerTestsEnabled();
let home: string;
let host: Host;
let client: Client;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'peragus-par-'));
  host = await createHost({ home, poolSize: 0 });
  const [a, b] = InMemoryTransport.createLinkedPair();
  await host.makeMcpServer().connect(a);
  client = new Client({ name: 'parallel', version: '1' });
  await client.connect(b);
});

afterAll(async () => {
  await client?.close();
  await host?.close();
  rmSync(home, { recursive: true, force: true });
});

describe('parallel containers', () => {
  it.runIf(withDocker)(
    '8 docker containers, each with only its own parameters',
    async () => {
      const rates = [3, 4, 5, 6, 7, 8, 9, 10];
      const r = await client.callTool(
        {
          name: 'experiment_plan_run',
          arguments: {
            model: { source: join(REPO, 'notebooks/models/sir.mdl') },
            experiment: { type: 'single', return_columns: ['Infected', 'Contact Rate'] },
            targets: rates.map((v) => ({ 'Contact Rate': v })),
            parallel_limit: 8,
            runtime: 'docker',
            resources: { cpu: 1, memory: '1g' },
          },
        },
        undefined,
        { timeout: 1_200_000, resetTimeoutOnProgress: true },
      );
      expect(r.isError).toBeFalsy();
      const plan = r.structuredContent as Json;
      expect(plan.finished).toBe(8);
      const q = await client.callTool({
        name: 'catalog_query',
        arguments: {
          sql: `SELECT experiment_id, list(DISTINCT "Contact Rate") AS rates FROM results WHERE experiment_id LIKE '${plan.plan_id}%' GROUP BY experiment_id ORDER BY experiment_id`,
        },
      });
      const rows = (q.structuredContent as { rows: { experiment_id: string; rates: number[] }[] }).rows;
      expect(rows).toHaveLength(8);
      const experiments = plan.experiments as { experiment_id: string; fixed: Record<string, number> }[];
      for (const row of rows) {
        const own = experiments.find((e) => e.experiment_id === row.experiment_id)?.fixed['Contact Rate'];
        expect(row.rates).toEqual([own]);
      }
      expect(await host.containers.list(undefined, 'docker')).toHaveLength(0);
    },
    1_200_000,
  );
});

// 8 experiments in 8 Docker containers at once, with no cross-talk: each
// experiment's registered Parquet holds only its own parameter value.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerTestsEnabled } from '../helpers/docker.ts';
import { type Json, startTestHost, type TestHost } from '../helpers/host.ts';
import { REPO } from '../helpers/sd-models.ts';

const withDocker = dockerTestsEnabled();
let t: TestHost;

beforeAll(async () => {
  t = await startTestHost();
});

afterAll(async () => {
  await t?.close();
});

describe('parallel containers', () => {
  it.runIf(withDocker)(
    '8 docker containers, each with only its own parameters',
    async () => {
      const rates = [3, 4, 5, 6, 7, 8, 9, 10];
      const r = await t.client.callTool(
        {
          name: 'experiment_plan_run',
          arguments: {
            model: {
              source: 'sir.mdl',
              content: readFileSync(join(REPO, 'notebooks/models/sir.mdl'), 'utf8'),
            },
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
      expect(plan.finished, JSON.stringify(plan.experiments)).toBe(8);
      const q = await t.client.callTool({
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
      expect(await t.host.containers.list(undefined, 'docker')).toHaveLength(0);
    },
    1_200_000,
  );
});

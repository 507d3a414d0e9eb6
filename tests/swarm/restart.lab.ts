// kill -9 of the host mid-plan with PERAGUS_RUNTIME=swarm, then a restart on
// the same PERAGUS_HOME: as on one machine, finished experiments stay, the
// rest resume (the services the dead host left are destroyed, their hub
// tokens revoked), nothing is registered twice, nothing is left on the cluster.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireSdModels } from '../helpers/sd-models.ts';
import { type Json, killMidPlanAndRestart, startStdioHost } from '../helpers/stdio-host.ts';
import { type SwarmLab, swarmLab } from '../helpers/swarm-lab.ts';
import { waitFor } from '../helpers/wait.ts';

const home = mkdtempSync(join(tmpdir(), 'peragus-swarm-kill-'));
const clients: Client[] = [];
let lab: SwarmLab;

const startHost = () =>
  startStdioHost(
    {
      ...lab.env,
      PERAGUS_HOME: home,
      PERAGUS_RUNTIME: 'swarm',
      PERAGUS_SWARM_IMAGE: lab.image,
    },
    clients,
  );

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
    const { second, planId } = await killMidPlanAndRestart(
      startHost,
      {
        model: { source: 'teacup.mdl', content: teacup },
        experiment: { type: 'single', metrics: [{ variable: 'Teacup Temperature', stat: 'min' }] },
        targets: [5, 8, 11, 14, 17, 20].map((v) => ({ 'Characteristic Time': v })),
        parallel_limit: 3,
        resources: { cpu: 0.5, memory: '1g' },
      },
      6,
      { twoFinished: 600_000, allFinished: 900_000 },
    );
    const perExperiment = await second.call('catalog_query', {
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

// kill -9 of the host in the middle of a plan, then a restart: finished
// experiments stay registered, unfinished ones are resumed, nothing is
// registered twice, and no container (node process) is left orphaned.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, describe, expect, it } from 'vitest';
import { isExperimentCommand } from '../helpers/node-role.ts';
import { REPO } from '../helpers/sd-models.ts';
import { killMidPlanAndRestart, startStdioHost } from '../helpers/stdio-host.ts';
import { waitFor } from '../helpers/wait.ts';

const home = mkdtempSync(join(tmpdir(), 'peragus-kill-'));
const clients: Client[] = [];
const startHost = () => startStdioHost({ PERAGUS_HOME: home }, clients);

/** What serves experiments under this test's PERAGUS_HOME: node roles, or sandboxes the host serves. */
function nodeProcesses(): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => isExperimentCommand(l) && l.includes(home));
}

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  rmSync(home, { recursive: true, force: true });
});

describe('host restart mid-plan', () => {
  it('keeps finished results, resumes the rest, duplicates nothing, orphans nothing', async () => {
    // The orphan check below means something only if it can see the nodes: it must see them run.
    let nodesSeen = 0;
    const sampler = setInterval(() => {
      nodesSeen = Math.max(nodesSeen, nodeProcesses().length);
    }, 250);
    const { second, planId } = await killMidPlanAndRestart(
      startHost,
      {
        model: { source: 'sir.mdl', content: readFileSync(join(REPO, 'notebooks/models/sir.mdl'), 'utf8') },
        experiment: { type: 'single', metrics: [{ variable: 'Infected', stat: 'max' }] },
        targets: [4, 5, 6, 7, 8, 9].map((v) => ({ 'Contact Rate': v })),
        parallel_limit: 2,
      },
      6,
      { twoFinished: 300_000, allFinished: 600_000 },
    ).finally(() => clearInterval(sampler));
    expect(nodesSeen).toBeGreaterThan(0);
    const perExperiment = await second.call('catalog_query', {
      sql: `SELECT experiment_id, count(*) AS n FROM artifacts WHERE experiment_id LIKE '${planId}%' GROUP BY 1 ORDER BY 1`,
    });
    const rows = perExperiment.rows as { n: number }[];
    expect(rows).toHaveLength(6);
    expect(new Set(rows.map((r) => r.n)).size).toBe(1); // the same artifact set once per experiment
    const metrics = await second.call('catalog_query', {
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
        ((await second.call('container_list', {})).containers as unknown[]).length === 0 ? true : undefined,
      30_000,
    );
  }, 900_000);
});

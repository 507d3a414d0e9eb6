// PERAGUS_RUNTIME=swarm end to end on the 3-node lab: a plan of 12 teacup
// experiments through the same MCP tool an agent uses. Every experiment is
// registered, Swarm spread them over at least 2 nodes (the catalog's own
// record of where each ran), and each result file is byte-identical to the
// same plan's on the local runtime. Then a worker is lost mid-plan (its
// dockerd, containerd and containers killed, as a machine dies): the plan still
// ends with one result per experiment, those lost with the node retried on
// another one.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SwarmRuntime } from '../../notebook-server/src/runtime/swarm.ts';
import { type Json, startTestHost, type TestHost } from '../helpers/host.ts';
import { REPO, requireSdModels } from '../helpers/sd-models.ts';
import { type SwarmLab, swarmLab, useLabEnv } from '../helpers/swarm-lab.ts';

const TEACUP = readFileSync(join(requireSdModels()!, 'samples/teacup/teacup_mdl.mdl'), 'utf8');
const plan = (extra: Json = {}) => ({
  model: { source: 'teacup.mdl', content: TEACUP },
  experiment: { type: 'single', metrics: [{ variable: 'Teacup Temperature', stat: 'min' }] },
  grid: { 'Characteristic Time': [5, 10, 15, 20], 'Room Temperature': [60, 70, 80] },
  parallel_limit: 6,
  resources: { cpu: 0.5, memory: '1g' },
  ...extra,
});

/** fixed parameters → sha256 of the experiment's runs file, and where it ran. */
async function results(t: TestHost, planId: string) {
  const r = await t.call('catalog_query', {
    sql: `SELECT e.experiment_id, e.config->>'$.fixed' AS fixed, e.node, a.sha256 FROM experiments e JOIN artifacts a USING (experiment_id)
          WHERE e.plan_id = '${planId}' AND a.path LIKE '%runs.parquet' ORDER BY fixed`,
  });
  return r.rows as { experiment_id: string; fixed: string; node: string | null; sha256: string }[];
}

describe('a plan on the swarm runtime', () => {
  let lab: SwarmLab;
  let swarm: TestHost;
  let local: TestHost;

  beforeAll(async () => {
    lab = swarmLab();
    useLabEnv(lab);
    swarm = await startTestHost({ runtime: 'swarm' });
    local = await startTestHost({ runtime: 'local' });
  });

  afterAll(async () => {
    execFileSync('bash', [join(REPO, 'scripts/swarm-lab.sh'), 'up'], { stdio: 'ignore', timeout: 180_000 });
    if (swarm) {
      const rt = swarm.host.containers.runtime('swarm');
      for (const c of await rt.list()) await rt.destroy(c.container_id).catch(() => undefined);
    }
    await swarm?.close();
    await local?.close();
  });

  it('runs 12 teacup experiments over ≥ 2 nodes, byte-identical to the local runtime', async () => {
    const onSwarm = await swarm.call('experiment_plan_run', plan());
    expect(onSwarm).toMatchObject({ total: 12, finished: 12, failed: 0 });
    const onLocal = await local.call('experiment_plan_run', plan({ resources: undefined }));
    expect(onLocal).toMatchObject({ total: 12, finished: 12, failed: 0 });

    const s = await results(swarm, String(onSwarm.plan_id));
    const l = await results(local, String(onLocal.plan_id));
    expect(s).toHaveLength(12);
    expect(l).toHaveLength(12);
    expect(s.map((r) => [r.fixed, r.sha256])).toEqual(l.map((r) => [r.fixed, r.sha256]));
    // Placement, as the catalog recorded it.
    const nodes = new Set(s.map((r) => r.node));
    expect(nodes.has(null)).toBe(false);
    expect(nodes.size, `nodes: ${[...nodes]}`).toBeGreaterThanOrEqual(2);
    expect(l.every((r) => r.node === null)).toBe(true);
    // Nothing left on the cluster: services, networks, hub tokens.
    const rt = swarm.host.containers.runtime('swarm') as SwarmRuntime;
    expect(await rt.list()).toEqual([]);
    expect(rt.hub.tokens.ids()).toEqual([]);
  }, 1_200_000);

  it('a worker lost mid-plan (dockerd, containerd and containers killed): the plan ends with one result per experiment', async () => {
    const rt = swarm.host.containers.runtime('swarm') as SwarmRuntime;
    // Long enough runs that experiments are in flight when the manager sees the worker down.
    const faulty = plan({
      experiment: {
        type: 'single',
        final_time: 30,
        time_step: 0.00005,
        saveper: 1,
        metrics: [{ variable: 'Teacup Temperature', stat: 'min' }],
      },
      retries: 2,
    });
    const running = swarm.call('experiment_plan_run', faulty);
    // Kill the worker of the first experiment that runs on one.
    let victim: string | undefined;
    const t0 = performance.now();
    while (!victim && performance.now() - t0 < 240_000) {
      const on = (await rt.list()).find((c) => c.running && (c.node === 'w1' || c.node === 'w2'));
      victim = on?.node ?? undefined;
      if (!victim) await new Promise((r) => setTimeout(r, 500));
    }
    expect(victim, 'no experiment was placed on a worker').toBeDefined();
    // The whole worker, not its dockerd alone: containers outlive a killed dockerd under
    // containerd, and one that finishes before the manager marks the node down loses nothing.
    execFileSync('bash', [join(REPO, 'scripts/swarm-lab.sh'), 'crash', victim!], {
      stdio: 'ignore',
      timeout: 30_000,
    });
    const summary = await running;
    expect(summary).toMatchObject({ total: 12, finished: 12, failed: 0 });
    const rows = await results(swarm, String(summary.plan_id));
    expect(rows).toHaveLength(12);
    expect(new Set(rows.map((r) => r.experiment_id)).size).toBe(12);
    const retried = (summary.experiments as { experiment_id: string; attempts: number }[]).filter(
      (e) => e.attempts > 1,
    );
    process.stderr.write(
      `[swarm plan] killed ${victim}; retried: ${retried.map((e) => `${e.experiment_id}×${e.attempts}`).join(', ') || 'none'}; nodes: ${rows.map((r) => r.node).join(' ')}\n`,
    );
    expect(retried.length, 'an experiment lost with the worker was retried').toBeGreaterThanOrEqual(1);
    for (const e of retried) {
      expect(rows.find((r) => r.experiment_id === e.experiment_id)?.node).not.toBe(victim);
    }
  }, 1_200_000);
});

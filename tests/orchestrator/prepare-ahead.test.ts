// A plan slot prepares its next experiment (container, notebook, model loaded) while the
// current one runs, so the slot goes from one run to the next with nothing in between.
// Real local-runtime containers and kernels; a cancelled plan leaves nothing behind.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlanProgress } from '../../notebook-server/src/orchestrator/plans.ts';
import { PlanInput } from '../../notebook-server/src/schemas/plan.ts';
import { startTestHost, type TestHost } from '../helpers/host.ts';
import { REPO } from '../helpers/sd-models.ts';

let t: TestHost;
const SIR = readFileSync(join(REPO, 'notebooks/models/sir.mdl'), 'utf8');

/** Three experiments one after another (K = 1), each a 150-run LHS: long enough to prepare the next. */
function plan() {
  return PlanInput.parse({
    model: { source: 'sir.mdl' },
    experiment: { type: 'lhs', samples: 150, parameters: { Infectivity: [0.05, 0.2] } },
    grid: { 'Contact Rate': [4, 8, 12] },
    parallel_limit: 1,
  });
}

interface Call {
  experiment: string;
  tool: string;
  start: number;
  end?: number;
}

/** Records each experiment's container creations and node tool calls, in order. */
function record(onCreated?: (experimentId: string) => void) {
  const byContainer = new Map<string, string>();
  const calls: Call[] = [];
  const create = t.host.containers.create.bind(t.host.containers);
  const routerCall = t.host.router.call.bind(t.host.router);
  t.host.containers.create = async (...args) => {
    const experiment = String(args[0]?.experiment_id);
    const entry: Call = { experiment, tool: 'create', start: performance.now() };
    calls.push(entry);
    const created = await create(...args);
    entry.end = performance.now();
    byContainer.set(created.container_id, experiment);
    onCreated?.(experiment);
    return created;
  };
  t.host.router.call = (async (cid: string, tool: string, ...rest: unknown[]) => {
    const entry: Call = { experiment: byContainer.get(cid) ?? '?', tool, start: performance.now() };
    calls.push(entry);
    try {
      return await (routerCall as (...a: unknown[]) => Promise<unknown>)(cid, tool, ...rest);
    } finally {
      entry.end = performance.now();
    }
  }) as typeof t.host.router.call;
  return {
    calls,
    restore() {
      t.host.containers.create = create;
      t.host.router.call = routerCall;
    },
  };
}

beforeAll(async () => {
  t = await startTestHost({ runtime: 'local' });
});

afterAll(async () => {
  await t?.close();
});

describe('a plan slot prepares its next experiment', () => {
  it('while the current one runs: the next one starts at its run', async () => {
    const rec = record();
    const steps = new Map<string, string[]>();
    try {
      const { plan_id, experiments } = await t.host.plans.start(plan(), SIR);
      const unsubscribe = t.host.plans.onProgress(plan_id, (p: PlanProgress) => {
        if (p.experiment_id && p.step && p.attempt) {
          steps.set(p.experiment_id, [...(steps.get(p.experiment_id) ?? []), p.step]);
        }
      });
      const summary = await t.host.plans.wait(plan_id);
      unsubscribe();
      expect(summary.finished).toBe(3);
      const ids = experiments.map((e) => e.experiment_id);
      const first = (id: string, tool: string) =>
        rec.calls.find((c) => c.experiment === id && c.tool === tool);
      for (let i = 0; i + 1 < ids.length; i++) {
        const run = first(ids[i]!, 'pysd_experiment_run')!;
        const next = ids[i + 1]!;
        // The next experiment's container, notebook and model load began while this run was going.
        expect(first(next, 'create')!.start).toBeLessThan(run.end!);
        expect(first(next, 'create')!.start).toBeGreaterThan(run.start);
        expect(first(next, 'pysd_model_load')!.end).toBeLessThan(first(next, 'pysd_experiment_run')!.start);
        // Its own lifecycle reports no notebook or load step: they were done ahead.
        expect(steps.get(next)).toEqual(expect.arrayContaining(['provision', 'run', 'export', 'register']));
        expect(steps.get(next)).not.toContain('load');
      }
      expect(steps.get(ids[0]!)).toEqual(expect.arrayContaining(['provision', 'notebook', 'load', 'run']));
      // Each experiment had one container, one notebook and one load (nothing done twice).
      for (const id of ids) {
        for (const tool of ['create', 'notebook_create', 'pysd_model_load', 'pysd_experiment_run']) {
          expect(rec.calls.filter((c) => c.experiment === id && c.tool === tool)).toHaveLength(1);
        }
      }
      expect(await t.host.containers.list()).toHaveLength(0);
    } finally {
      rec.restore();
    }
  }, 300_000);

  it('and a free slot takes a prepared experiment instead of leaving it behind a long run', async () => {
    // K = 2: one long experiment and three short ones. The long run's slot prepares one of the
    // short ones when it starts; the other slot runs all three while the long one goes on.
    const rec = record();
    try {
      const { plan_id, experiments } = await t.host.plans.start(
        PlanInput.parse({
          model: { source: 'sir.mdl' },
          experiment: { type: 'lhs', samples: 20, parameters: { Infectivity: [0.05, 0.2] } },
          targets: [{ 'FINAL TIME': 3000 }, { 'FINAL TIME': 50 }, { 'FINAL TIME': 50 }, { 'FINAL TIME': 50 }],
          parallel_limit: 2,
        }),
        SIR,
      );
      const summary = await t.host.plans.wait(plan_id);
      expect(summary.finished).toBe(4);
      const ids = experiments.map((e) => e.experiment_id);
      const run = (id: string) =>
        rec.calls.find((c) => c.experiment === id && c.tool === 'pysd_experiment_run')!;
      for (const short of ids.slice(1)) expect(run(short).end!).toBeLessThan(run(ids[0]!).end!);
      expect(await t.host.containers.list()).toHaveLength(0);
    } finally {
      rec.restore();
    }
  }, 300_000);

  it('and a plan cancelled meanwhile removes the one it prepared, registering nothing for it', async () => {
    let planId = '';
    let cancelled = '';
    const rec = record((experimentId) => {
      // The second experiment's container exists: it is being prepared while the first runs.
      if (experimentId.endsWith('-1') && planId) {
        cancelled = experimentId;
        t.host.plans.cancel(planId);
      }
    });
    try {
      const { plan_id, experiments } = await t.host.plans.start(plan(), SIR);
      planId = plan_id;
      const summary = await t.host.plans.wait(plan_id);
      expect(summary.status).toBe('cancelled');
      expect(cancelled).toBe(experiments[1]!.experiment_id);
      const outcome = summary.experiments.find((e) => e.experiment_id === cancelled);
      expect(outcome?.status).toBe('cancelled');
      // Its session was never used for a run, and nothing is left running.
      expect(rec.calls.filter((c) => c.experiment === cancelled && c.tool === 'pysd_experiment_run')).toEqual(
        [],
      );
      expect(await t.host.containers.list()).toHaveLength(0);
      const row = await t.host.catalog.getExperiment(cancelled);
      expect(row?.status).not.toBe('finished');
      const results = await t.call('catalog_query', {
        sql: `SELECT count(*) AS n FROM artifacts WHERE experiment_id = '${cancelled}'`,
      });
      expect(Number((results.rows as { n: number }[])[0]?.n)).toBe(0);
    } finally {
      rec.restore();
    }
  }, 300_000);
});

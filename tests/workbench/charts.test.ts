// Chart data from registered results (through the same tools an agent uses):
// an optimisation's trace, scenarios as one line each, fan bands that bracket
// the median, and the plan table's parameters-as-columns shape.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Charts } from '../../notebook-server/src/workbench/charts.ts';
import { startTestHost, type TestHost } from '../helpers/host.ts';

let t: TestHost;
let charts: Charts;
const SIR = readFileSync(resolve('notebooks/models/sir.mdl'), 'utf8');

/** Runs the experiment in a session of its own experiment (results are registered with their lineage). */
async function runAndRegister(experimentId: string, experiment: Record<string, unknown>): Promise<void> {
  const sid = (await t.call('notebook_create', { name: experimentId, experiment_id: experimentId }))
    .session_id as string;
  const loaded = await t.call('pysd_model_load', { session_id: sid, source: 'models/sir.mdl', content: SIR });
  const ran = await t.call('pysd_experiment_run', {
    session_id: sid,
    model_id: loaded.model_id as string,
    experiment,
  });
  await t.call('experiment_register_result', {
    experiment_id: experimentId,
    session_id: sid,
    artifacts: (ran.artifacts as { path: string; sha256: string }[]).map((a) => ({
      path: a.path,
      sha256: a.sha256,
    })),
    metrics: {},
  });
}

describe('chart data', () => {
  beforeAll(async () => {
    t = await startTestHost({ poolSize: 1 });
    charts = new Charts(t.host.catalog);
  }, 180_000);
  afterAll(async () => {
    await t?.close();
  });

  it('an optimisation trace: one objective value per evaluation and the best so far', async () => {
    await runAndRegister('opt-1', {
      type: 'optimization',
      final_time: 30,
      parameters: { 'Contact Rate': [2, 10] },
      objective: { variable: 'Infected', stat: 'max', goal: 'min' },
      options: { maxiter: 3, popsize: 4 },
    });
    const trace = await charts.trace('opt-1');
    expect(trace?.objective).toBe('max(Infected)');
    expect(trace?.values.length).toBeGreaterThan(3);
    for (let i = 1; i < (trace?.best.length ?? 0); i++) {
      expect(trace?.best[i]).toBeLessThanOrEqual(trace?.best[i - 1] as number);
    }
    expect(Math.min(...(trace?.values ?? []))).toBe(trace?.best.at(-1));
  }, 180_000);

  it('scenarios: one line per scenario; fan bands in order around the median', async () => {
    await runAndRegister('scen-1', {
      type: 'scenarios',
      final_time: 30,
      scenarios: [
        { name: 'distancing', parameters: { 'Contact Rate': 3 } },
        { name: 'baseline', parameters: {} },
      ],
    });
    const lines = await charts.scenarios('scen-1', 'Infected');
    expect(lines?.series.map((s) => s.name).sort()).toEqual(['baseline', 'distancing']);
    const peak = (name: string) => Math.max(...(lines?.series.find((s) => s.name === name)?.values ?? []));
    expect(peak('baseline')).toBeGreaterThan(peak('distancing'));

    await runAndRegister('mc-1', {
      type: 'monte_carlo',
      samples: 40,
      seed: 2,
      final_time: 30,
      parameters: { 'Contact Rate': { dist: 'uniform', min: 2, max: 8 } },
      metrics: [{ variable: 'Infected', stat: 'max' }],
    });
    const fan = await charts.fan('mc-1');
    expect(fan.variable).toBe('Infected');
    expect(fan.run_count).toBe(40);
    expect(fan.approximate).toBe(false);
    for (let i = 0; i < fan.time.length; i++) {
      const q = fan.bands.map((b) => b[i] as number);
      for (let j = 1; j < q.length; j++) expect(q[j]).toBeGreaterThanOrEqual(q[j - 1] as number);
    }
    await expect(charts.fan('mc-1', 'Nope')).rejects.toThrow(/unknown variable "Nope"; one of: .*Infected/);
    // Cross-plan overlay: experiments of two plans, each line labelled with its plan.
    for (const [id, plan, rate] of [
      ['mc-a', 'plan-a', 3],
      ['mc-b', 'plan-b', 7],
    ] as const) {
      await runAndRegister(id, {
        type: 'monte_carlo',
        samples: 5,
        seed: 1,
        final_time: 30,
        parameters: { 'Contact Rate': rate, Infectivity: { dist: 'uniform', min: 0.04, max: 0.06 } },
      });
      await t.host.catalog.upsertExperiment({
        experiment_id: id,
        plan_id: plan,
        config: { fixed: { 'Contact Rate': rate } },
      });
    }
    const both = await charts.overlay(['plan-a', 'plan-b'], 'Infected');
    expect(both.series.map((x) => x.name)).toEqual(['plan-a: Contact Rate=3', 'plan-b: Contact Rate=7']);
    expect((await charts.overlay('plan-a', 'Infected')).series.map((x) => x.name)).toEqual([
      'Contact Rate=3',
    ]);
    const sens = await charts.sensitivity('mc-1');
    expect(sens?.estimated).toBe(true);
    expect(Object.keys(sens?.by_metric ?? {})).toEqual(['max(Infected)']);
  }, 180_000);
});

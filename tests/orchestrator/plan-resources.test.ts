// A plan's `resources` are container_create's (one schema): every cap reaches each experiment's
// container spec, pids included, and a misspelled or impossible cap is refused by name.
import { describe, expect, it } from 'vitest';
import { containerSpecFor } from '../../notebook-server/src/orchestrator/lifecycle.ts';
import type { ExperimentConfig } from '../../notebook-server/src/orchestrator/plan-expand.ts';
import { PlanInput } from '../../notebook-server/src/schemas/plan.ts';

const base = {
  model: { source: 'm.mdl', content: 'x = 1\n~ ~|\n' },
  experiment: { type: 'single' },
  targets: [{ x: 1 }],
};

describe('plan resources', () => {
  it('hands every cap to each experiment container', () => {
    const plan = PlanInput.parse({ ...base, resources: { cpu: 0.5, memory: '256m', pids: 64, disk: '1g' } });
    const spec = containerSpecFor('plan-1', plan, { experiment_id: 'e-1' } as ExperimentConfig);
    expect(spec.resources).toEqual({ cpu: 0.5, memory: '256m', pids: 64, disk: '1g' });
  });

  it('refuses a misspelled cap and an impossible one, naming them', () => {
    const typo = PlanInput.safeParse({ ...base, resources: { memroy: '1g' } });
    expect(typo.success).toBe(false);
    expect(JSON.stringify(typo.error?.issues)).toMatch(/memroy/);
    const tiny = PlanInput.safeParse({ ...base, resources: { memory: '1k' } });
    expect(tiny.success).toBe(false);
    expect(JSON.stringify(tiny.error?.issues)).toMatch(/at least 16m/);
    const pids = PlanInput.safeParse({ ...base, resources: { pids: 2 } });
    expect(pids.success).toBe(false);
  });
});

// A plan's expansion into one configuration per experiment, and the check that
// refuses impossible plans (the plan object itself: schemas/plan.ts).
import { axisValues, MAX_PLAN_EXPERIMENTS, type Plan } from '../schemas/plan.ts';

export interface ExperimentConfig {
  experiment_id: string;
  index: number;
  /** The parameters fixed for this experiment by grid or targets. */
  fixed: Record<string, string | number | boolean>;
  experiment: Record<string, unknown>;
}

function gridSize(grid: NonNullable<Plan['grid']>): number {
  return Object.values(grid).reduce((n, axis) => n * axisValues(axis).length, 1);
}

/** Refuses impossible plans with a message naming the problem; returns the experiment count. */
export function checkPlan(plan: Plan): number {
  if (plan.grid && plan.targets) throw new Error('a plan takes grid or targets, not both');
  const count = plan.grid ? gridSize(plan.grid) : plan.targets ? plan.targets.length : 1;
  if (count > MAX_PLAN_EXPERIMENTS) {
    throw new Error(
      `the plan asks for ${count.toExponential(2)} experiments; the limit is ${MAX_PLAN_EXPERIMENTS}. ` +
        'Use fewer grid values, or one experiment of type grid/lhs (many runs in one kernel) instead.',
    );
  }
  if (count === 0) throw new Error('the plan has no experiments (an empty targets list)');
  return count;
}

export function expandPlan(plan: Plan, planId: string): ExperimentConfig[] {
  checkPlan(plan);
  let combos: Record<string, string | number | boolean>[] = [{}];
  if (plan.grid) {
    for (const [param, axis] of Object.entries(plan.grid)) {
      combos = combos.flatMap((c) => axisValues(axis).map((v) => ({ ...c, [param]: v })));
    }
  } else if (plan.targets) {
    combos = plan.targets;
  }
  const width = String(combos.length - 1).length;
  return combos.map((fixed, index) => {
    const base = plan.experiment as Record<string, unknown>;
    const parameters = { ...((base.parameters as Record<string, unknown> | undefined) ?? {}), ...fixed };
    return {
      experiment_id: `${planId}-${String(index).padStart(width, '0')}`,
      index,
      fixed,
      experiment: { ...base, parameters },
    };
  });
}

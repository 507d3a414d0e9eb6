// The plan object of experiment_plan_run and `peragus run PLAN.json`, defined
// once, plus its expansion into one configuration per experiment.
import { z } from 'zod';

/** Past this many experiments a plan is refused outright (a 10^7-point grid is a mistake, not a plan). */
export const MAX_PLAN_EXPERIMENTS = 10_000;

export const PlanModel = z
  .object({
    source: z.string().min(1).describe('Model file: .mdl (Vensim), .xmile/.stmx (XMILE) or .py (PySD).'),
    format: z.enum(['vensim', 'xmile', 'python']).optional(),
    content: z.string().optional().describe('The model text; without it, source is read on the host.'),
  })
  .strict();

const ParamValue = z.union([z.number(), z.string(), z.boolean()]);

export const PlanInput = z
  .object({
    name: z.string().min(1).max(120).optional(),
    model: PlanModel,
    experiment: z
      .object({ type: z.string().min(1) })
      .passthrough()
      .describe('The pysd_experiment_run experiment object; grid/targets fix parameters per experiment.'),
    grid: z
      .record(z.string(), z.array(ParamValue).min(1))
      .optional()
      .describe('One experiment per combination: {param: [values]}.'),
    targets: z
      .array(z.record(z.string(), ParamValue))
      .optional()
      .describe('One experiment per entry: [{param: value}].'),
    parallel_limit: z
      .number()
      .int()
      .positive()
      .max(64)
      .default(4)
      .describe('Experiments running at once (K).'),
    resources: z
      .object({
        cpu: z.number().positive().optional(),
        memory: z.union([z.number(), z.string()]).optional(),
        disk: z
          .union([z.number(), z.string()])
          .optional()
          .describe('Volume size cap per experiment (default 2g).'),
      })
      .optional(),
    runtime: z.enum(['local', 'docker']).optional(),
    timeout_ms: z
      .number()
      .int()
      .positive()
      .default(30 * 60_000)
      .describe('Per experiment; a stalled experiment is stopped and marked failed.'),
    retries: z.number().int().min(0).max(5).default(1),
    output_format: z.enum(['parquet', 'csv', 'netcdf']).default('parquet'),
  })
  .strict();
export type PlanInput = z.input<typeof PlanInput>;
export type Plan = z.output<typeof PlanInput>;

export interface ExperimentConfig {
  experiment_id: string;
  index: number;
  /** The parameters fixed for this experiment by grid or targets. */
  fixed: Record<string, string | number | boolean>;
  experiment: Record<string, unknown>;
}

function gridSize(grid: Record<string, unknown[]>): number {
  return Object.values(grid).reduce((n, values) => n * values.length, 1);
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
    for (const [param, values] of Object.entries(plan.grid)) {
      combos = combos.flatMap((c) => values.map((v) => ({ ...c, [param]: v })));
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

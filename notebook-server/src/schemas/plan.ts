// The plan object of experiment_plan_run and `peragus run PLAN.json`, defined
// once (its expansion into experiments is orchestrator/plan-expand.ts).
import { z } from 'zod';
import { ResourcesSchema } from '../runtime/types.ts';

/** Past this many experiments a plan is refused outright (a 10^7-point grid is a mistake, not a plan). */
export const MAX_PLAN_EXPERIMENTS = 10_000;

export const PlanModel = z
  .object({
    source: z.string().min(1).describe('Model file: .mdl (Vensim), .xmile/.stmx (XMILE) or .py (PySD).'),
    format: z
      .enum(['vensim', 'xmile', 'python'])
      .optional()
      .describe('Default: from the extension of source.'),
    content: z
      .string()
      .optional()
      .describe(
        'The model text. Without it, over MCP source names a file in the host inbox ("inbox/NAME.mdl") or a catalog model ("catalog:SHA256/NAME.mdl"); `peragus run` reads it relative to the plan file.',
      ),
  })
  .strict()
  .describe('The model. Example: {"source": "sir.mdl", "content": "<the .mdl text>"}.');

const ParamValue = z.union([z.number(), z.string(), z.boolean()]);
/** A grid axis: [a, b, ...] or {values: [a, b, ...]}, both a SET of values (never a range). */
const GridAxis = z.union([
  z.array(ParamValue).min(1).describe('The values, e.g. [4, 8] = two experiments (4 and 8), not a range.'),
  z.strictObject({ values: z.array(ParamValue).min(1) }).describe('The same, explicit: {"values": [4, 8]}.'),
]);
export const axisValues = (axis: z.infer<typeof GridAxis>) => (Array.isArray(axis) ? axis : axis.values);

export const PlanInput = z
  .object({
    name: z.string().min(1).max(120).optional().describe('A label for the plan.'),
    model: PlanModel,
    experiment: z
      .object({ type: z.string().min(1) })
      .passthrough()
      .describe(
        'The pysd_experiment_run experiment object, run once per experiment of the plan (there [a, b] is a range). ' +
          'Example: {"type": "single", "metrics": [{"variable": "Infected", "stat": "max"}]}.',
      ),
    grid: z
      .record(z.string(), GridAxis)
      .optional()
      .describe(
        'One experiment per combination. In a grid, [a, b] is a SET of values (not a range): ' +
          '{"Contact Rate": [4, 8], "Infectivity": {"values": [0.05, 0.1]}} = 4 experiments.',
      ),
    targets: z
      .array(z.record(z.string(), ParamValue))
      .optional()
      .describe(
        'One experiment per entry, e.g. [{"Contact Rate": 4}, {"Contact Rate": 8, "Infectivity": 0.1}].',
      ),
    parallel_limit: z
      .number()
      .int()
      .positive()
      .max(64)
      .default(4)
      .describe(
        'Experiments running at once (K, default 4); above PERAGUS_PLAN_APPROVE_PARALLEL the user is asked.',
      ),
    resources: ResourcesSchema.optional().describe(
      'Caps per experiment, as container_create\'s: {"cpu": 1, "memory": "1g", "pids": 512, "disk": "2g"} (defaults 1 CPU, 2g, 512 processes, a 2g volume).',
    ),
    runtime: z
      .enum(['local', 'docker', 'swarm'])
      .optional()
      .describe('Where experiments run. Default: PERAGUS_RUNTIME (local).'),
    timeout_ms: z
      .number()
      .int()
      .positive()
      .default(30 * 60_000)
      .describe(
        'Milliseconds per experiment (default 1800000); a stalled experiment is stopped and marked failed.',
      ),
    retries: z
      .number()
      .int()
      .min(0)
      .max(5)
      .default(1)
      .describe('Retries of a failed experiment (default 1).'),
    output_format: z
      .enum(['parquet', 'csv', 'netcdf'])
      .default('parquet')
      .describe('Runs file format (default parquet).'),
  })
  .strict();
export type PlanInput = z.input<typeof PlanInput>;
export type Plan = z.output<typeof PlanInput>;

// Inputs of the pysd_* tools and the Python cell each call becomes. Values are
// embedded as Python literals (strings via JSON escapes, which Python reads
// the same), so no input can break out of the call it belongs to.
import { z } from 'zod';
import { SessionRef } from '../../schemas/notebook-tools.ts';

const Name = z.string().min(1).max(300);

export const Distribution = z
  .object({ dist: z.enum(['normal', 'uniform', 'triangular', 'lognormal']) })
  .catchall(z.union([z.number(), z.string()]));

export const ParameterSpec = z.union([
  z.number(),
  z.string(),
  z.tuple([z.number(), z.number()]).refine(([min, max]) => min <= max, {
    message: 'a range [min, max] needs min <= max',
  }),
  z.object({ values: z.array(z.union([z.number(), z.string()])).min(1) }),
  Distribution,
]);

export const EXPERIMENT_TYPES = [
  'single',
  'sweep',
  'grid',
  'monte_carlo',
  'lhs',
  'sobol',
  'morris',
  'fast',
  'optimization',
  'scenarios',
] as const;

const MetricSpec = z.object({
  variable: Name,
  stat: z.enum(['final', 'max', 'min', 'mean', 'time_of_max']),
});

export const Experiment = z
  .object({
    type: z.string().refine((t) => (EXPERIMENT_TYPES as readonly string[]).includes(t), {
      message: `unsupported experiment type: use one of ${EXPERIMENT_TYPES.join(', ')}`,
    }),
    parameters: z.record(Name, ParameterSpec).optional(),
    samples: z.number().int().positive().max(10_000_000).optional(),
    seed: z.number().int().nonnegative().optional(),
    workers: z.number().int().positive().max(256).optional(),
    return_columns: z.array(Name).optional(),
    initial_time: z.number().optional(),
    final_time: z.number().optional(),
    time_step: z.number().positive().optional(),
    saveper: z.number().positive().optional(),
    metrics: z.array(MetricSpec).optional(),
    objective: MetricSpec.extend({ goal: z.enum(['min', 'max']) }).optional(),
    scenarios: z.array(z.object({ name: Name, parameters: z.record(Name, ParameterSpec) })).optional(),
  })
  .passthrough();

export const ModelLoadInput = {
  ...SessionRef,
  source: z
    .string()
    .min(1)
    .describe("Model path relative to the session's work dir, e.g. models/teacup.mdl."),
  format: z.enum(['vensim', 'xmile', 'python']).optional(),
  name: z.string().min(1).max(120).optional().describe('Model id to use (default: file stem + checksum).'),
  content: z.string().optional().describe('Model text, written to source first.'),
};
export const ExperimentRunInput = {
  ...SessionRef,
  model_id: Name,
  experiment: Experiment,
  output_format: z.enum(['parquet', 'csv', 'netcdf']).default('parquet'),
  name: z
    .string()
    .min(1)
    .max(120)
    .optional()
    .describe('Results folder name (default: derived from the experiment).'),
};
export const ModelAnalyzeInput = { ...SessionRef, model_id: Name };
export const VisualizeInput = {
  ...SessionRef,
  target: Name.describe(
    'A model id, or a results path (an experiment folder, its runs file or summary.json).',
  ),
  kind: z.enum(['timeseries', 'fan', 'scatter', 'tornado']).default('timeseries'),
  variables: z.array(Name).optional(),
  x: Name.optional(),
  y: Name.optional(),
  path: z
    .string()
    .optional()
    .describe('PNG path relative to the work dir (default: chosen by peragus_pysd).'),
};

/** A JSON value as a Python literal. */
export function py(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number')
    return Number.isFinite(value) ? String(value) : `float(${JSON.stringify(String(value))})`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(py).join(', ')}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${py(v)}`).join(', ')}}`;
}

function kwargs(values: Record<string, unknown>): string {
  return Object.entries(values)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `    ${k}=${py(v)},`)
    .join('\n');
}

const call = (fn: string, args: Record<string, unknown>) =>
  `import peragus_pysd\n\n_result = peragus_pysd.${fn}(\n${kwargs(args)}\n)`;

type Args<S extends z.ZodRawShape> = z.infer<z.ZodObject<S>>;

export function loadModelCode(a: Args<typeof ModelLoadInput>): string {
  return call('load_model', {
    source: a.source,
    format: a.format,
    name: a.name,
    content: a.content,
    confine_to: '.',
  });
}

export function runExperimentCode(a: Args<typeof ExperimentRunInput>): string {
  return call('run_experiment', {
    model_id: a.model_id,
    experiment: a.experiment,
    output_format: a.output_format,
    name: a.name,
  });
}

export function analyzeCode(a: Args<typeof ModelAnalyzeInput>): string {
  return call('analyze_model', { model_id: a.model_id });
}

export function visualizeCode(a: Args<typeof VisualizeInput>): string {
  return call('visualize', {
    target: a.target,
    kind: a.kind,
    variables: a.variables,
    x: a.x,
    y: a.y,
    path: a.path,
  });
}

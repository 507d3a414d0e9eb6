// The zod schemas of the pysd_* tools and of the `experiment` object
// (ARCHITECTURE.md, "Public interfaces"): defined once here, used by the MCP
// tools, plans (`experiment_plan_run`, `peragus run`) and the HTTP/UI faces.
// The Python package (peragus_pysd) checks the same rules again, with the
// model at hand (parameter names, stocks, sample sizes per method).
import { z } from 'zod';
import { SessionRef } from './notebook-tools.ts';

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
export type ExperimentType = (typeof EXPERIMENT_TYPES)[number];

export const METRIC_STATS = ['final', 'initial', 'max', 'min', 'mean', 'time_of_max', 'time_of_min'] as const;
export const VECTORISE_MODES = ['auto', 'on', 'off'] as const;
export const OUTPUT_FORMATS = ['parquet', 'csv', 'netcdf'] as const;
export const MODEL_FORMATS = ['vensim', 'xmile', 'python'] as const;
export const PLOT_KINDS = ['timeseries', 'fan', 'scatter', 'tornado'] as const;
export const OPTIMIZATION_METHODS = ['differential_evolution', 'nelder-mead', 'powell'] as const;

/** A model variable: its own name ("Characteristic Time") or PySD's (`characteristic_time`). */
export const VariableName = z.string().trim().min(1).max(300);

const finite = (what: string) => z.number({ error: `${what} must be a number` }).finite();

const Range = z
  .tuple([finite('range min'), finite('range max')])
  .refine(([min, max]) => min <= max, { error: (iss) => rangeMessage(iss.input) });

function rangeMessage(input: unknown): string {
  const [min, max] = input as [number, number];
  return `range min ${min} > max ${max}: write [min, max]`;
}

const bounded = <T extends { min?: number; max?: number }>(d: T) =>
  d.min === undefined || d.max === undefined || d.min <= d.max;
const boundsMessage = { error: 'distribution min > max' };

export const Distribution = z.discriminatedUnion('dist', [
  z
    .strictObject({ dist: z.literal('uniform'), min: finite('min'), max: finite('max') })
    .refine(bounded, boundsMessage),
  z
    .strictObject({
      dist: z.literal('normal'),
      mean: finite('mean'),
      std: finite('std').positive(),
      min: finite('min').optional(),
      max: finite('max').optional(),
    })
    .refine(bounded, boundsMessage),
  z
    .strictObject({
      dist: z.literal('lognormal'),
      mu: finite('mu').describe('mean of ln X'),
      sigma: finite('sigma').positive().describe('standard deviation of ln X'),
      min: finite('min').optional(),
      max: finite('max').optional(),
    })
    .refine(bounded, boundsMessage),
  z
    .strictObject({
      dist: z.literal('triangular'),
      min: finite('min'),
      mode: finite('mode'),
      max: finite('max'),
    })
    .refine((d) => d.min <= d.mode && d.mode <= d.max, { error: 'triangular needs min <= mode <= max' }),
]);

/** value | [min, max] | {values: [...]} | {dist: ...} (or {value}). */
export const ParameterSpec = z
  .union([
    finite('value').describe('A fixed value, e.g. 5.'),
    Range.describe('In an experiment, [min, max] is a RANGE sampled or swept, e.g. [5, 15].'),
    z.strictObject({ value: finite('value') }).describe('A fixed value, e.g. {"value": 5}.'),
    z
      .strictObject({
        values: z.array(finite('values[i]')).min(1, { error: 'values must not be empty' }),
      })
      .describe('An explicit set of values, e.g. {"values": [5, 10, 15]}.'),
    Distribution.describe('A distribution, e.g. {"dist": "normal", "mean": 10, "std": 2}.'),
  ])
  .describe(
    'value | [min, max] (a range: sampled or swept) | {values: [...]} (exactly these values) | {dist: uniform|normal|lognormal|triangular, ...}.',
  );
export type ParameterSpec = z.infer<typeof ParameterSpec>;

export const Parameters = z
  .record(VariableName, ParameterSpec)
  .describe(
    'By model name or Python name. Example: {"Contact Rate": [4, 8], "Infectivity": {"values": [0.05, 0.1]}, "Illness Duration": 5}.',
  );
const FixedParameters = z.record(
  VariableName,
  z.union([finite('value'), z.strictObject({ value: finite('value') })]),
);

export const Metric = z
  .strictObject({
    variable: VariableName.describe('A model variable, e.g. "Infected".'),
    stat: z
      .enum(METRIC_STATS)
      .default('final')
      .describe('Statistic of its time series (default final); time_of_* give the time.'),
  })
  .describe('One number per run, e.g. {"variable": "Infected", "stat": "max"}.');
export const Objective = Metric.extend({
  goal: z.enum(['min', 'max']).default('min').describe('Minimize (default) or maximize.'),
}).describe('optimization target, e.g. {"variable": "Cost", "stat": "final", "goal": "min"}.');

export const Scenario = z
  .strictObject({
    name: z.string().min(1).max(200).describe('Scenario name (unique), e.g. "high contact".'),
    parameters: FixedParameters.default({}).describe(
      'Fixed values of this scenario, e.g. {"Contact Rate": 8}.',
    ),
  })
  .describe('e.g. {"name": "lockdown", "parameters": {"Contact Rate": 2}}.');

export const ExperimentOptions = z.strictObject({
  method: z.enum(OPTIMIZATION_METHODS).optional().describe('optimization method'),
  popsize: z.number().int().min(2).max(1000).optional().describe('differential_evolution population size'),
  maxiter: z.number().int().min(1).optional().describe('optimization iterations'),
  polish: z.boolean().optional().describe('differential_evolution: polish the best point'),
  tol: z.number().positive().optional().describe('optimization tolerance'),
  num_levels: z.number().int().min(2).max(100).optional().describe('morris grid levels'),
  calc_second_order: z.boolean().optional().describe('sobol second-order indices'),
  M: z.number().int().min(1).max(50).optional().describe('fast interference parameter'),
});

const isVarying = (s: ParameterSpec) => typeof s !== 'number' && !(typeof s === 'object' && 'value' in s);

export const Experiment = z
  .strictObject({
    type: z
      .string()
      .refine((t) => (EXPERIMENT_TYPES as readonly string[]).includes(t), {
        error: (iss) =>
          `unsupported experiment type ${JSON.stringify(iss.input)}; supported types: ${EXPERIMENT_TYPES.join(', ')}`,
      })
      .describe(`One of ${EXPERIMENT_TYPES.join(', ')}.`),
    parameters: Parameters.optional(),
    samples: z
      .number()
      .int()
      .min(1)
      .max(10_000_000)
      .optional()
      .describe(
        'Runs or base sample size; default per type: sweep 10 points, grid 5 per range, monte_carlo/lhs 100, sobol 64 (N·(D+2) runs), morris 10 trajectories, fast 65, optimization 300 evaluations.',
      ),
    seed: z
      .number()
      .int()
      .min(0)
      .max(Number.MAX_SAFE_INTEGER)
      .optional()
      .describe('Random seed (same seed, same design). Default: fixed per experiment.'),
    workers: z
      .number()
      .int()
      .min(1)
      .max(256)
      .optional()
      .describe('Parallel worker processes. Default: CPUs.'),
    return_columns: z
      .array(VariableName)
      .min(1)
      .optional()
      .describe('Variables to keep in the runs file. Default: stocks (and metric variables).'),
    initial_time: finite('initial_time').optional().describe("Model time units. Default: the model's."),
    final_time: finite('final_time').optional().describe("Model time units. Default: the model's."),
    time_step: finite('time_step').positive().optional().describe("Integration step. Default: the model's."),
    saveper: finite('saveper').positive().optional().describe("Output interval. Default: the model's."),
    metrics: z
      .array(Metric)
      .optional()
      .describe('Per-run numbers to summarize. Default: final value of each stock.'),
    objective: Objective.optional(),
    scenarios: z.array(Scenario).min(1).optional().describe('type scenarios only: one run per entry.'),
    options: ExperimentOptions.optional().describe(
      'Method options, e.g. {"calc_second_order": false} (sobol), {"method": "nelder-mead"} (optimization).',
    ),
    vectorise: z
      .enum(VECTORISE_MODES)
      .optional()
      .describe(
        'auto (default): run the sweep as one vectorised integration when the model allows it, else per run ' +
          '(the result says which, and why); on: vectorised or an error naming the construct; off: per run.',
      ),
  })
  .superRefine((e, ctx) => {
    const params = Object.entries(e.parameters ?? {});
    const varying = params.filter(([, s]) => isVarying(s)).map(([n]) => n);
    const issue = (message: string, path: string[]) => ctx.addIssue({ code: 'custom', message, path });
    if (e.initial_time !== undefined && e.final_time !== undefined && e.final_time < e.initial_time) {
      issue(`final_time ${e.final_time} < initial_time ${e.initial_time}`, ['final_time']);
    }
    if ((e.type === 'single' || e.type === 'scenarios') && varying.length > 0) {
      issue(`a ${e.type} experiment takes fixed values only; varied: ${varying.join(', ')}`, ['parameters']);
    }
    const needsVarying = ['sweep', 'grid', 'monte_carlo', 'lhs', 'sobol', 'morris', 'fast', 'optimization'];
    if (needsVarying.includes(e.type) && varying.length === 0) {
      issue(`a ${e.type} experiment needs at least one parameter with a range, values or a distribution`, [
        'parameters',
      ]);
    }
    if (e.type === 'optimization' && !e.objective) {
      issue('an optimization needs objective: {variable, stat, goal: min|max}', ['objective']);
    }
    if (e.type === 'scenarios') {
      if (!e.scenarios) issue('a scenarios experiment needs scenarios: [{name, parameters}]', ['scenarios']);
      const names = (e.scenarios ?? []).map((s) => s.name);
      const dup = names.find((n, i) => names.indexOf(n) !== i);
      if (dup !== undefined) issue(`duplicate scenario name ${JSON.stringify(dup)}`, ['scenarios']);
    } else if (e.scenarios) {
      issue("scenarios is only used by type 'scenarios'", ['scenarios']);
    }
  });
export const ExperimentDescription =
  'The experiment. Example: {"type": "lhs", "samples": 50, "seed": 1, "parameters": {"Contact Rate": [4, 8]}, ' +
  '"metrics": [{"variable": "Infected", "stat": "max"}]}. Here [a, b] in parameters is a range; {"values": [...]} lists exact values.';
export type Experiment = z.infer<typeof Experiment>;

/** A path relative to the session's work dir that cannot leave it. */
export const WorkDirPath = z
  .string()
  .min(1)
  .max(1000)
  .refine((p) => !p.startsWith('/') && !/^[a-zA-Z]:[\\/]/.test(p), {
    error: 'path must be relative to the work dir',
  })
  .refine((p) => !p.split(/[\\/]/).includes('..'), { error: "path must not contain '..'" })
  .refine((p) => !p.includes('\0'), { error: 'path must not contain NUL' });

// --- tool inputs (raw shapes, as MCP tool definitions take them) ---------------

export const PysdModelLoadInput = {
  ...SessionRef,
  source: WorkDirPath.describe("Model path relative to the session's work dir, e.g. models/teacup.mdl."),
  format: z
    .enum(MODEL_FORMATS)
    .optional()
    .describe('Default: from the extension (.mdl, .xmile/.xml/.stmx, .py).'),
  name: z.string().min(1).max(120).optional().describe('Model id to use (default: file stem + checksum).'),
  content: z
    .string()
    .max(20_000_000)
    .optional()
    .describe('Model text (up to 20 MB), written to source first. Without it, source must exist.'),
};
export const PysdExperimentRunInput = {
  ...SessionRef,
  model_id: z.string().min(1).max(200).describe('From pysd_model_load.'),
  experiment: Experiment.describe(ExperimentDescription),
  output_format: z
    .enum(OUTPUT_FORMATS)
    .default('parquet')
    .describe('Runs file format: parquet (default), csv, netcdf.'),
  name: z
    .string()
    .min(1)
    .max(120)
    .optional()
    .describe('Results folder name (default: derived from the experiment).'),
};
export const PysdModelAnalyzeInput = {
  ...SessionRef,
  model_id: z.string().min(1).max(200).describe('From pysd_model_load.'),
};
export const PysdVisualizeInput = {
  ...SessionRef,
  target: z
    .string()
    .min(1)
    .max(1000)
    .describe('A model id, or a results path (an experiment folder, its runs file or summary.json).'),
  kind: z
    .enum(PLOT_KINDS)
    .default('timeseries')
    .describe('timeseries (default), fan (bands over runs), scatter, tornado (sensitivity).'),
  variables: z.array(VariableName).min(1).optional().describe('timeseries/fan: output columns to draw'),
  x: VariableName.optional().describe('scatter: a parameter or metric column'),
  y: VariableName.optional().describe('scatter: a metric or parameter column'),
  metric: z
    .string()
    .min(1)
    .max(400)
    .optional()
    .describe('tornado: metric column, e.g. "final(Teacup Temperature)"'),
  max_runs: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .optional()
    .describe('timeseries: draw at most this many runs'),
  title: z.string().max(200).optional().describe('Plot title. Default: from the target.'),
  path: WorkDirPath.optional().describe('PNG path relative to the work dir (default: <results>/plots/...).'),
  preview: z
    .boolean()
    .default(false)
    .describe('Also return a small PNG preview as image content. Default false: the PNG is a resource link.'),
};

export const PysdModelLoad = z.object(PysdModelLoadInput);
export const PysdExperimentRun = z.object(PysdExperimentRunInput);
export const PysdModelAnalyze = z.object(PysdModelAnalyzeInput);
export const PysdVisualize = z.object(PysdVisualizeInput);
export type PysdModelLoadArgs = z.infer<typeof PysdModelLoad>;
export type PysdExperimentRunArgs = z.infer<typeof PysdExperimentRun>;
export type PysdModelAnalyzeArgs = z.infer<typeof PysdModelAnalyze>;
export type PysdVisualizeArgs = z.infer<typeof PysdVisualize>;

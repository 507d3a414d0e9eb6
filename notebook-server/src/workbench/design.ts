// The experiment form's submission, checked before anything starts: the same
// experiment schema as the MCP tools, parameter and variable names against
// the model, grid/targets values, and the plan size limit of the orchestrator.
import { z } from 'zod';
import { checkPlan } from '../orchestrator/plan-expand.ts';
import { PlanInput } from '../schemas/plan.ts';
import { Experiment, OUTPUT_FORMATS } from '../schemas/pysd-tools.ts';
import type { ModelDescription } from './describe.ts';
import { badInput } from './errors.ts';

const GridValues = z.array(z.union([z.number().finite(), z.string(), z.boolean()])).min(1);

export const DesignInput = z.strictObject({
  model_id: z.string().min(1).max(100),
  name: z.string().trim().min(1).max(120).optional(),
  /** One experiment (cells of a notebook) or a plan of experiments over grid/targets. */
  mode: z.enum(['single', 'plan']).default('single'),
  experiment: z.record(z.string(), z.unknown()),
  grid: z.record(z.string(), GridValues).optional(),
  targets: z.array(z.record(z.string(), z.union([z.number(), z.string(), z.boolean()]))).optional(),
  parallel_limit: z.number().int().positive().max(64).default(4),
  output_format: z.enum(OUTPUT_FORMATS).default('parquet'),
  retries: z.number().int().min(0).max(5).optional(),
});
export type DesignInput = z.input<typeof DesignInput>;

export interface CheckedDesign {
  input: z.output<typeof DesignInput>;
  experiment: z.output<typeof Experiment>;
  /** Experiments that will run (1 for a single experiment). */
  count: number;
}

function fieldOf(path: PropertyKey[]): string {
  return path.map(String).join('.');
}

/** Every name a parameter may be given by: the model's own names and PySD's. */
function nameSets(d: ModelDescription): { params: Set<string>; variables: Set<string> } {
  const params = new Set<string>();
  const variables = new Set<string>();
  for (const c of [...d.constants, ...(d.lookups ?? [])]) {
    params.add(c.name);
    params.add(c.py_name);
  }
  for (const v of [...d.stocks, ...d.flows, ...d.auxiliaries, ...d.constants]) {
    variables.add(v.name);
    variables.add(v.py_name);
  }
  return { params, variables };
}

function suggest(name: string, known: Set<string>): string {
  const lower = name.toLowerCase();
  const close = [...known].filter((k) => k.toLowerCase().includes(lower) || lower.includes(k.toLowerCase()));
  const list = (close.length ? close : [...known]).slice(0, 6).join(', ');
  return list ? ` (known: ${list})` : '';
}

export function checkDesign(raw: unknown, model: ModelDescription): CheckedDesign {
  const parsed = DesignInput.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw badInput(`${fieldOf(i?.path ?? []) || 'form'}: ${i?.message}`, fieldOf(i?.path ?? []));
  }
  const input = parsed.data;
  const exp = Experiment.safeParse(input.experiment);
  if (!exp.success) {
    const i = exp.error.issues[0];
    const field = ['experiment', ...(i?.path ?? [])];
    const message = i?.message ?? 'invalid experiment';
    throw badInput(`${fieldOf(field)}: ${message}`, fieldOf(field));
  }
  const experiment = exp.data;
  const { params, variables } = nameSets(model);
  for (const name of Object.keys(experiment.parameters ?? {})) {
    if (!params.has(name)) {
      throw badInput(
        `parameter "${name}" is not a constant of this model${suggest(name, params)}`,
        `experiment.parameters.${name}`,
      );
    }
  }
  for (const [i, m] of (experiment.metrics ?? []).entries()) {
    if (!variables.has(m.variable)) {
      throw badInput(
        `metric variable "${m.variable}" is not in this model${suggest(m.variable, variables)}`,
        `experiment.metrics.${i}.variable`,
      );
    }
  }
  if (experiment.objective && !variables.has(experiment.objective.variable)) {
    throw badInput(
      `objective variable "${experiment.objective.variable}" is not in this model`,
      'experiment.objective',
    );
  }
  let count = 1;
  if (input.mode === 'plan') {
    if (!input.grid && !input.targets) {
      throw badInput('a plan needs a grid ({parameter: [values]}) or a targets list', 'grid');
    }
    for (const name of Object.keys(input.grid ?? {})) {
      if (!params.has(name))
        throw badInput(
          `grid parameter "${name}" is not a constant of this model${suggest(name, params)}`,
          `grid.${name}`,
        );
      if (experiment.parameters && name in experiment.parameters) {
        throw badInput(
          `"${name}" is both varied inside each experiment and fixed per experiment by the grid: choose one`,
          `grid.${name}`,
        );
      }
    }
    try {
      count = checkPlan(
        PlanInput.parse({
          model: { source: 'model' },
          experiment: { type: experiment.type },
          ...(input.grid ? { grid: input.grid } : {}),
          ...(input.targets ? { targets: input.targets } : {}),
          parallel_limit: input.parallel_limit,
        }),
      );
    } catch (err) {
      throw badInput((err as Error).message, input.grid ? 'grid' : 'targets');
    }
  } else if (input.grid || input.targets) {
    throw badInput('grid and targets make a plan: choose "Run as a plan", or remove them', 'mode');
  }
  return { input, experiment, count };
}

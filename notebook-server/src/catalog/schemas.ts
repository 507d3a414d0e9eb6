// Input schemas of the catalog, defined once: the MCP tools (experiment_register_result,
// experiment_list, catalog_query) and the HTTP API reuse them as they are.
import { z } from 'zod';
import { ExperimentIdSchema } from '../ids/index.ts';
import { CatalogError } from './errors.ts';

// Experiment ids become directory names (results/experiment_id=<id>/): the one
// rule lives in ids/experiment.ts.
export { ExperimentIdSchema };

export const EXPERIMENT_STATUSES = ['queued', 'running', 'finished', 'failed', 'cancelled'] as const;
export const ExperimentStatusSchema = z.enum(EXPERIMENT_STATUSES);
export type ExperimentStatus = z.infer<typeof ExperimentStatusSchema>;

const Sha256Schema = z.string().regex(/^[0-9a-fA-F]{64}$/, 'sha256: 64 hex digits');
const TimestampSchema = z.iso.datetime({ offset: true }).describe('ISO 8601 timestamp');

export const ArtifactInputSchema = z.object({
  path: z.string().min(1).describe('Local file path of the artifact (already copied out of the container)'),
  name: z
    .string()
    .min(1)
    .max(1024)
    .optional()
    .describe("Path recorded in the catalog, relative to the experiment's work dir (default: the file name)"),
  sha256: Sha256Schema.optional().describe('Expected sha256 (e.g. from container_cp_out); checked on copy'),
  bytes: z.number().int().nonnegative().optional().describe('Expected size in bytes; checked on copy'),
  media_type: z.string().min(1).max(255).optional().describe('Default: from the file extension'),
});
export type ArtifactInput = z.infer<typeof ArtifactInputSchema>;

export const MetricsInputSchema = z
  .union([
    z.record(z.string().min(1).max(255), z.number()),
    z.array(z.object({ name: z.string().min(1).max(255), value: z.number() })),
  ])
  .describe('Metrics as {name: value} or [{name, value}]');
export type MetricsInput = z.infer<typeof MetricsInputSchema>;

/** Descriptive fields of an experiment, all optional; given ones overwrite stored ones. */
export const ExperimentFieldsSchema = z.object({
  plan_id: z.string().min(1).max(255).optional(),
  config: z.record(z.string(), z.unknown()).optional().describe('The experiment configuration (JSON object)'),
  model_sha256: Sha256Schema.optional(),
  image_digest: z.string().min(1).max(255).optional(),
  seeds: z.union([z.number().int(), z.array(z.number().int())]).optional(),
  container_id: z.string().min(1).max(255).optional(),
  node: z.string().min(1).max(255).optional().describe('The cluster node it ran on (swarm runtime)'),
  session_id: z.string().min(1).max(255).optional(),
  started_at: TimestampSchema.optional(),
  finished_at: TimestampSchema.optional(),
  error: z.string().max(100_000).optional(),
});

export const RegisterResultInputSchema = ExperimentFieldsSchema.extend({
  experiment_id: ExperimentIdSchema,
  session_id: z.string().min(1).max(255),
  artifacts: z.array(ArtifactInputSchema).max(10_000).default([]),
  metrics: MetricsInputSchema.default({}),
  status: z.enum(['finished', 'failed']).default('finished'),
  replace: z
    .boolean()
    .default(false)
    .describe('Replace a different result already registered for this experiment (default: refuse)'),
});
export type RegisterResultInput = z.input<typeof RegisterResultInputSchema>;
export type RegisterResultParsed = z.output<typeof RegisterResultInputSchema>;

export const UpsertExperimentInputSchema = ExperimentFieldsSchema.extend({
  experiment_id: ExperimentIdSchema,
  status: ExperimentStatusSchema.optional().describe('Default for a new experiment: queued'),
});
export type UpsertExperimentInput = z.input<typeof UpsertExperimentInputSchema>;

export const ExperimentFilterSchema = z.object({
  status: z.union([ExperimentStatusSchema, z.array(ExperimentStatusSchema)]).optional(),
  plan_id: z.string().min(1).optional(),
  experiment_ids: z.array(ExperimentIdSchema).max(10_000).optional(),
  limit: z.number().int().min(1).max(10_000).default(100),
  offset: z.number().int().min(0).default(0),
});
export type ExperimentFilter = z.input<typeof ExperimentFilterSchema>;

export const CatalogQueryInputSchema = z.object({
  sql: z
    .string()
    .min(1)
    .max(100_000)
    .describe('One read-only SELECT over experiments, artifacts, metrics, results'),
  row_limit: z.number().int().min(1).max(100_000).default(1000),
  timeout_ms: z.number().int().min(100).max(300_000).default(10_000),
});
export type CatalogQueryInput = z.input<typeof CatalogQueryInputSchema>;

/** Parses with a schema; failures become CatalogError('invalid_input') listing each issue by path. */
export function parseInput<S extends { parse: (v: unknown) => unknown }>(
  schema: S,
  input: unknown,
): ReturnType<S['parse']> {
  try {
    return schema.parse(input) as ReturnType<S['parse']>;
  } catch (err) {
    const issues = (err as { issues?: { path: PropertyKey[]; message: string }[] }).issues;
    const text = issues?.map((i) => `${i.path.map(String).join('.') || 'input'}: ${i.message}`).join('; ');
    throw new CatalogError('invalid_input', `invalid input: ${text ?? String(err)}`, { cause: err });
  }
}

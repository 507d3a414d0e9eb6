// Inputs and results of the host's catalog and plan tools
// (experiment_register_result, experiment_list, catalog_query,
// experiment_plan_run), built on the catalog's and the plan's own schemas.
import { z } from 'zod';
import { ArtifactRefSchema } from '../artifacts/index.ts';
import {
  ArtifactInputSchema,
  CatalogQueryInputSchema,
  ExperimentStatusSchema,
  MetricsInputSchema,
} from '../catalog/schemas.ts';
import { EXPERIMENT_ID_RULE } from '../ids/index.ts';
import { PlanInput } from './plan.ts';

const RegisterArtifact = ArtifactInputSchema.pick({ sha256: true, media_type: true })
  .extend({
    path: z.string().min(1).describe("Relative to the session's work dir (what pysd_* tools return)."),
  })
  .describe('e.g. {"path": "results/sir-lhs/runs.parquet", "sha256": "<from the run result>"}.');

export const RegisterInput = {
  experiment_id: z.string().min(1).describe(`Experiment id (${EXPERIMENT_ID_RULE}).`),
  container_id: z
    .string()
    .optional()
    .describe('Where the artifacts are (copied out first); omit for host sessions.'),
  session_id: z.string().min(1).describe('The session that produced the artifacts.'),
  artifacts: z
    .array(RegisterArtifact)
    .default([])
    .describe('Files to store (checksums verified); default none.'),
  metrics: MetricsInputSchema.default({}).describe(
    'Numbers to record, as {name: value} or [{name, value}], e.g. {"peak_infected": 512.3}. Default none.',
  ),
  config: z
    .record(z.string(), z.unknown())
    .optional()
    .describe('The experiment configuration to record (JSON object), e.g. the experiment object.'),
  replace: z
    .boolean()
    .default(false)
    .describe('Replace a different result already registered for this id (default false: refuse).'),
};

const iso = z.iso.datetime({ offset: true });

export const ExperimentListInput = {
  status: z
    .union([ExperimentStatusSchema, z.array(ExperimentStatusSchema)])
    .optional()
    .describe('Only these statuses: queued, running, finished, failed, cancelled (one or a list).'),
  plan_id: z
    .string()
    .min(1)
    .optional()
    .describe('Only the experiments of this plan (from experiment_plan_run).'),
  created_after: iso.optional().describe('Only experiments created at or after this ISO 8601 time.'),
  created_before: iso.optional().describe('Only experiments created before this ISO 8601 time.'),
  limit: z.number().int().min(1).max(500).default(50).describe('Rows per page (default 50, max 500).'),
  cursor: z
    .string()
    .max(1000)
    .optional()
    .describe('next_cursor of the previous page; omit for the first (newest) page.'),
};

export const CatalogQueryInput = {
  ...CatalogQueryInputSchema.shape,
  row_limit: CatalogQueryInputSchema.shape.row_limit.describe('Rows per page (default 1000, max 100000).'),
  timeout_ms: CatalogQueryInputSchema.shape.timeout_ms.describe(
    'Interrupt the query after this many milliseconds (default 10000).',
  ),
  sql: CatalogQueryInputSchema.shape.sql.describe(
    'One read-only SELECT over experiments, artifacts, metrics, results. Add ORDER BY for stable pages. ' +
      'Example: SELECT experiment_id, max("Infected") AS peak FROM results GROUP BY 1 ORDER BY 2 DESC',
  ),
  cursor: z
    .string()
    .max(1000)
    .optional()
    .describe('next_cursor of the previous page of the same sql; omit for the first page.'),
};

export const PlanRunInput = {
  ...PlanInput.shape,
  wait: z
    .boolean()
    .default(true)
    .describe(
      'true (default): the call returns when the plan ends (progress keeps it alive; or call it as an MCP task). false: return plan_id at once.',
    ),
};

// --- results ---------------------------------------------------------------

export const RegisterOutput = {
  experiment_id: z.string(),
  outcome: z
    .enum(['registered', 'unchanged', 'replaced'])
    .describe('unchanged: this exact result was already registered (nothing written).'),
  status: z.string(),
  result_digest: z.string().describe('sha256 over the artifacts and metrics.'),
  artifacts: z.array(ArtifactRefSchema),
  metrics: z.record(z.string(), z.number().nullable()),
};

export const ExperimentListOutput = {
  experiments: z
    .array(
      z.object({
        experiment_id: z.string(),
        status: ExperimentStatusSchema,
        plan_id: z.string().nullable(),
        created_at: z.string(),
        finished_at: z.string().nullable(),
        metrics: z.record(z.string(), z.number().nullable()),
        artifact_count: z.number().int(),
        error: z.string().optional().describe('First 300 characters of the error.'),
      }),
    )
    .describe('Newest first. Full record: resource experiment://{id}/summary.'),
  total: z.number().int().describe('Experiments matching the filters (all pages).'),
  next_cursor: z.string().optional().describe('Pass as cursor for the next page; absent on the last page.'),
};

export const CatalogQueryOutput = {
  columns: z.array(z.object({ name: z.string(), type: z.string() })),
  rows: z.array(z.record(z.string(), z.unknown())).describe('One object per row, keyed by column name.'),
  row_count: z.number().int(),
  truncated: z.boolean().describe('More rows follow (see next_cursor).'),
  elapsed_ms: z.number(),
  next_cursor: z.string().optional().describe('Pass with the same sql for the next page.'),
};

const PlanExperiment = z.looseObject({
  experiment_id: z.string(),
  fixed: z.record(z.string(), z.unknown()).describe('The parameters this experiment fixed (grid/targets).'),
  status: z.string().optional().describe('finished, failed, cancelled or skipped (already registered).'),
  error: z.string().optional(),
});

export const PlanRunOutput = {
  plan_id: z.string().describe('Read it as resource plan://{plan_id}; filter experiment_list by it.'),
  experiments: z.array(PlanExperiment),
  status: z.string().optional().describe('finished or cancelled (absent with wait: false).'),
  total: z.number().int().optional(),
  finished: z.number().int().optional(),
  failed: z.number().int().optional(),
  wall_ms: z.number().optional(),
};

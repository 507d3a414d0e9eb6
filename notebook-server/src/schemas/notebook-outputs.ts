// Results of the notebook, cell and pysd_* tools (their MCP outputSchema),
// defined once: the tools declare them, the SDK validates structuredContent
// against them, and the host's router parses what a container returns with
// the same schemas (orchestrator/router.ts), so a call is typed end to end.
import { z } from 'zod';
import { ArtifactRefSchema } from '../artifacts/index.ts';

export const ArtifactRef = ArtifactRefSchema.extend({
  uri: z
    .string()
    .optional()
    .describe('peragus:// URI to read the file with resources/read (also sent as a resource_link).'),
}).describe('A file the call wrote.');

const iso = z.string().describe('ISO 8601 timestamp.');

export const SessionSummary = {
  session_id: z.string().describe('Pass to every later call.'),
  experiment_id: z.string().describe('Experiment the session belongs to.'),
  name: z.string(),
  state: z.string().describe('Kernel state: starting, idle, busy, restarting, dead, closed.'),
  work_dir: z.string().describe('Where the session reads and writes files (paths are relative to it).'),
  cell_count: z.number().int(),
  running_cell_id: z.string().nullable().describe('The cell running now, or null.'),
  queued_cell_ids: z.array(z.string()),
  created_at: iso,
  updated_at: iso,
};

export const NotebookListOutput = { sessions: z.array(z.looseObject(SessionSummary)) };
export const DeletedOutput = { deleted: z.string().describe('The id that was deleted.') };
export const NotebookRestartOutput = {
  ...SessionSummary,
  restarted: z.boolean().describe('True: a fresh kernel runs (variables and loaded models are gone).'),
};

export const NotebookExportOutput = {
  session_id: z.string(),
  format: z.string(),
  cell_count: z.number().int(),
  artifacts: z.array(ArtifactRef).describe('The written files (srcmd: the notebook and its outputs JSON).'),
  content: z.string().optional().describe('The notebook text, only with inline: true (and when small).'),
};

const OutputSummary = z
  .looseObject({
    output_type: z.string().describe('stream, display_data, execute_result or error.'),
    name: z.string().optional().describe('stream: stdout or stderr.'),
    text: z.string().optional().describe('Text, cut to its last 4000 characters.'),
    truncated: z.boolean().optional(),
    ename: z.string().optional(),
    evalue: z.string().optional(),
    traceback: z.string().optional(),
    artifact: ArtifactRef.optional().describe('An image output, written as a file.'),
    result: z.unknown().optional().describe('A peragus_pysd result display.'),
  })
  .describe('One cell output, summarized.');

export const CellRun = z.looseObject({
  cell_id: z.string(),
  status: z.string().describe('ok, error, aborted, interrupted or timeout.'),
  execution_count: z.number().int().nullable().optional(),
  duration_ms: z
    .number()
    .nullable()
    .describe('Wall time of the cell in milliseconds (null if it never ran).'),
  error: z.looseObject({ kind: z.string(), ename: z.string(), evalue: z.string() }).optional(),
  outputs: z.array(OutputSummary),
});

export const CellRef = {
  cell_id: z.string(),
  cell_type: z.enum(['code', 'markdown']),
};
export const CellAddOutput = {
  ...CellRef,
  run: CellRun.nullable().optional().describe('With execute: true, the run of the cell.'),
};
export const CellExecuteOutput = {
  session_id: z.string(),
  ran: z.number().int().describe('Cells that ran.'),
  failed: z.number().int().describe('Cells whose status is not ok.'),
  runs: z.array(CellRun),
};
export const CellInterruptOutput = {
  interrupted: z.boolean().describe('A running cell was interrupted.'),
  cancelled: z.array(z.string()).describe('Queued cells that were cancelled.'),
};

/** Every pysd_* result: the generated cell, its duration, and what peragus_pysd returned. */
const PysdCell = {
  cell_id: z.string().describe('The notebook cell that made this call (it replays on export).'),
  duration_ms: z.number().nullable().describe('Kernel time of the cell in milliseconds.'),
};

export const PysdModelLoadOutput = {
  ...PysdCell,
  model_id: z.string().describe('Pass to pysd_experiment_run, pysd_model_analyze, pysd_visualize.'),
  time: z
    .looseObject({})
    .optional()
    .describe('{initial_time, final_time, time_step, saveper, units} of the model.'),
  stocks: z.array(z.unknown()).optional(),
  flows: z.array(z.unknown()).optional(),
  auxiliaries: z.array(z.unknown()).optional(),
  constants: z.array(z.unknown()).optional().describe('Candidate parameters: units, limits, doc, value.'),
};

export const PysdExperimentRunOutput = {
  ...PysdCell,
  model_id: z.string(),
  experiment_type: z.string(),
  run_count: z.number().int().describe('Runs the experiment made.'),
  failed_runs: z.number().int().optional(),
  results_dir: z
    .string()
    .optional()
    .describe('The results folder (pass as target to pysd_visualize), relative to the work dir.'),
  artifacts: z.array(ArtifactRef).describe('runs file, metrics file, summary.json.'),
  metrics: z
    .record(z.string(), z.unknown())
    .optional()
    .describe('Per metric "stat(variable)": {count, mean, std, min, p05, p50, p95, max} over the runs.'),
  sensitivity: z.unknown().optional().describe('sobol/morris/fast: indices per metric and parameter.'),
  optimization: z.unknown().optional().describe('optimization: best_parameters, best_value, evaluations.'),
};

export const PysdModelAnalyzeOutput = {
  ...PysdCell,
  structure: z.unknown().optional(),
  graph: z.unknown().optional(),
  parameters: z.unknown().optional().describe('value, limits, suggested_range per parameter.'),
  units_check: z.unknown().optional(),
};

export const PysdVisualizeOutput = {
  ...PysdCell,
  kind: z.string(),
  artifacts: z.array(ArtifactRef).describe('The PNG (read it with resources/read, or ask preview: true).'),
};

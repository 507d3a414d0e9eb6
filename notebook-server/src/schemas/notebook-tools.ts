// Inputs of the notebook and cell tools: one zod definition used by the MCP
// tools, the HTTP UI API and the browser UI.
import { z } from 'zod';
import { ExperimentIdSchema } from '../ids/index.ts';

/** Routing fields: without them a call runs in the host itself (embedded default). */
export const Routing = {
  container_id: z
    .string()
    .optional()
    .describe('Run in this container (from container_create). Omit to run in the host itself.'),
};

export const SessionRef = {
  session_id: z.string().min(1).describe('Session id from notebook_create or notebook_list.'),
  ...Routing,
};

/** A session name: shown in lists and slugged into file names, so no path characters or controls. */
export const SessionName = z
  .string()
  .min(1)
  .max(120)
  .regex(/^[\w .-]+$/, 'name may contain letters, digits, spaces, ".", "_" and "-"');

export const NotebookCreateInput = {
  name: SessionName.describe('Notebook name, e.g. "teacup-lhs".'),
  experiment_id: ExperimentIdSchema.optional().describe(
    "Experiment this session belongs to. Default: the container's experiment, or a fresh id.",
  ),
  ...Routing,
};

export const NotebookListInput = { ...Routing };

export const NotebookDeleteInput = { ...SessionRef };

export const NotebookFormat = z.enum(['srcmd', 'ipynb']);
export const ExportFormat = z.enum(['srcmd', 'ipynb', 'json', 'markdown']);

export const NotebookImportInput = {
  format: NotebookFormat.default('srcmd').describe('srcmd (default) or ipynb.'),
  content: z.string().optional().describe('The notebook text. Either content or path.'),
  path: z
    .string()
    .optional()
    .describe("A file in the host's (or container's) work dir. Either content or path."),
  outputs: z
    .string()
    .optional()
    .describe('For srcmd: the outputs JSON that travels beside the notebook (optional).'),
  name: SessionName.optional().describe('Session name; defaults to the notebook title.'),
  experiment_id: ExperimentIdSchema.optional().describe(
    "Experiment of the new session. Default: the container's experiment, or a fresh id.",
  ),
  ...Routing,
};

export const NotebookExportInput = {
  ...SessionRef,
  format: ExportFormat.default('srcmd').describe(
    'srcmd (default; an outputs JSON travels beside it), ipynb, json or markdown.',
  ),
  path: z
    .string()
    .optional()
    .describe("Where to write, relative to the session's work dir. Default: exports/<name>.<ext>."),
  inline: z
    .boolean()
    .default(false)
    .describe(
      'Also return the notebook text in the result (when under 64 KB). Default false: read it via its resource link.',
    ),
};

export const CellAddInput = {
  ...SessionRef,
  source: z.string().default('').describe('Python code or markdown text of the cell.'),
  cell_type: z.enum(['code', 'markdown']).default('code').describe('code (default) or markdown.'),
  filename: z.string().optional().describe('srcmd file name of a code cell, e.g. "analysis.py".'),
  index: z.number().int().nonnegative().optional().describe('Insert at this position (default: append).'),
  after: z.string().optional().describe('Insert after this cell id.'),
  execute: z.boolean().default(false).describe('Run the cell right after adding it.'),
  timeout_ms: z
    .number()
    .int()
    .positive()
    .optional()
    .describe('With execute: interrupt the cell after this many milliseconds. Default: no limit.'),
};

export const CellUpdateInput = {
  ...SessionRef,
  cell_id: z.string().min(1).describe('The cell to change (from cell_add or the session state).'),
  source: z.string().optional().describe('New source (clears the outputs).'),
  filename: z.string().optional().describe('New srcmd file name of a code cell.'),
};

export const CellDeleteInput = {
  ...SessionRef,
  cell_id: z.string().min(1).describe('The cell to delete.'),
};

export const CellExecuteInput = {
  ...SessionRef,
  cell_id: z.string().min(1).describe('A cell id, or "all" to run every code cell in order.'),
  timeout_ms: z
    .number()
    .int()
    .positive()
    .max(24 * 3600 * 1000)
    .optional()
    .describe('Interrupt a cell that runs longer than this (per cell).'),
};

export const CellInterruptInput = { ...SessionRef };

export const NotebookRestartInput = { ...SessionRef };

// The tools a node (an experiment container) serves, by name: input and result
// shapes defined once. The host's router calls them typed with these (the
// result parsed, not cast), and the MCP face registers the same shapes.
import { z } from 'zod';
import {
  CellAddOutput,
  CellExecuteOutput,
  CellInterruptOutput,
  CellRef,
  DeletedOutput,
  NotebookExportOutput,
  NotebookListOutput,
  NotebookRestartOutput,
  PysdExperimentRunOutput,
  PysdModelAnalyzeOutput,
  PysdModelLoadOutput,
  PysdVisualizeOutput,
  SessionSummary,
} from './notebook-outputs.ts';
import {
  CellAddInput,
  CellDeleteInput,
  CellExecuteInput,
  CellInterruptInput,
  CellUpdateInput,
  NotebookCreateInput,
  NotebookDeleteInput,
  NotebookExportInput,
  NotebookImportInput,
  NotebookListInput,
  NotebookRestartInput,
} from './notebook-tools.ts';
import {
  PysdExperimentRunInput,
  PysdModelAnalyzeInput,
  PysdModelLoadInput,
  PysdVisualizeInput,
} from './pysd-tools.ts';

export const NodeTools = {
  notebook_create: { input: NotebookCreateInput, output: SessionSummary },
  notebook_list: { input: NotebookListInput, output: NotebookListOutput },
  notebook_delete: { input: NotebookDeleteInput, output: DeletedOutput },
  notebook_import: { input: NotebookImportInput, output: SessionSummary },
  notebook_export: { input: NotebookExportInput, output: NotebookExportOutput },
  notebook_restart: { input: NotebookRestartInput, output: NotebookRestartOutput },
  cell_add: { input: CellAddInput, output: CellAddOutput },
  cell_update: { input: CellUpdateInput, output: CellRef },
  cell_delete: { input: CellDeleteInput, output: DeletedOutput },
  cell_execute: { input: CellExecuteInput, output: CellExecuteOutput },
  cell_interrupt: { input: CellInterruptInput, output: CellInterruptOutput },
  pysd_model_load: { input: PysdModelLoadInput, output: PysdModelLoadOutput },
  pysd_experiment_run: { input: PysdExperimentRunInput, output: PysdExperimentRunOutput },
  pysd_model_analyze: { input: PysdModelAnalyzeInput, output: PysdModelAnalyzeOutput },
  pysd_visualize: { input: PysdVisualizeInput, output: PysdVisualizeOutput },
} as const;

export type NodeToolName = keyof typeof NodeTools;
export type NodeToolArgs<N extends NodeToolName> = Omit<
  z.input<z.ZodObject<(typeof NodeTools)[N]['input']>>,
  'container_id'
>;
export type NodeToolResult<N extends NodeToolName> = z.output<z.ZodObject<(typeof NodeTools)[N]['output']>> &
  Record<string, unknown>;

// One result schema per tool, built at its first use: zod compiles an object schema's parser
// when it first parses, so a schema made per call paid that compilation on every result
// (≈ 4 ms of the host's CPU per experiment).
const resultSchemas = new Map<NodeToolName, z.ZodType>();

function resultSchema(name: NodeToolName): z.ZodType {
  let schema = resultSchemas.get(name);
  if (!schema) {
    schema = z.looseObject(NodeTools[name].output);
    resultSchemas.set(name, schema);
  }
  return schema;
}

/** Parses a node tool's structured result with its declared shape (extra fields kept). */
export function parseNodeResult<N extends NodeToolName>(name: N, value: unknown): NodeToolResult<N> {
  const parsed = resultSchema(name).safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'result'}: ${i.message}`).join('; ');
    throw new Error(`${name} returned a result that does not match its schema: ${issues}`);
  }
  return parsed.data as unknown as NodeToolResult<N>;
}

// TS side of the PySD tools: schemas, cell-code builders, result parsing.
// Aliases under the names the MCP tool module used for its first draft.
export {
  cellName,
  experimentRunCode,
  experimentRunCode as runExperimentCode,
  modelAnalyzeCode,
  modelAnalyzeCode as analyzeCode,
  modelLoadCode,
  modelLoadCode as loadModelCode,
  pysdCall,
  visualizeCode,
} from './code.ts';
export { pyCall, pyLiteral, pyString } from './literal.ts';
export {
  PROGRESS_MIME,
  PysdCellError,
  type PysdFunction,
  type PysdProgress,
  type PysdResult,
  parseExecution,
  parseProgress,
  parsePysdResult,
  RESULT_MIME,
} from './result.ts';
export * from './schemas.ts';
export {
  PysdExperimentRunInput as ExperimentRunInput,
  PysdModelAnalyzeInput as ModelAnalyzeInput,
  PysdModelLoadInput as ModelLoadInput,
  PysdVisualizeInput as VisualizeInput,
} from './schemas.ts';

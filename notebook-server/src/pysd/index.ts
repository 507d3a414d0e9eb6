// TS side of the PySD tools: schemas, cell-code builders, result parsing.
export {
  cellName,
  experimentRunCode,
  modelAnalyzeCode,
  modelLoadCode,
  pysdCall,
  safeJson,
  visualizeCode,
} from './code.ts';
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

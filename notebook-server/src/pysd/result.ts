// Reading a peragus_pysd call back from its cell's outputs.
//
// Every public function of the Python package displays its result once as a
// display_data (or execute_result) output carrying the mime type
// `application/vnd.peragus.result+json` with `{"peragus": 1, "function": NAME,
// "result": {...}}`, next to a one-line text/plain. A failed call leaves an
// `error` output (ename/evalue/traceback), which becomes a PysdCellError.
// Progress of long runs is one display updated in place: notebook/progress.ts.
import { mimeJson, type Output } from '../../../srcmd/src/nbformat.ts';
import { PeragusError } from '../errors/index.ts';

export const RESULT_MIME = 'application/vnd.peragus.result+json';

export type PysdFunction = 'load_model' | 'run_experiment' | 'analyze_model' | 'visualize';

export interface PysdResult<T = Record<string, unknown>> {
  function: string;
  result: T;
}

/** The Python call failed (or displayed no result): ename/evalue are Python's. */
export class PysdCellError extends PeragusError {
  readonly ename: string;
  readonly evalue: string;
  readonly traceback: string[];
  constructor(ename: string, evalue: string, traceback: string[] = []) {
    super(
      INPUT_ERRORS.has(ename) ? 'python_input_error' : 'python_error',
      evalue ? `${ename}: ${evalue}` : ename,
    );
    this.name = 'PysdCellError';
    this.ename = ename;
    this.evalue = evalue;
    this.traceback = traceback;
  }
  /** Whether the caller can fix it by changing the input (peragus_pysd.PeragusError subclasses and friends). */
  get isInputError(): boolean {
    return INPUT_ERRORS.has(this.ename);
  }
}

const INPUT_ERRORS = new Set([
  'PeragusError',
  'ModelTranslationError',
  'UnknownModelError',
  'UnknownParameterError',
  'InvalidParameterError',
  'InvalidExperimentError',
  'UnsupportedExperimentError',
  'PathOutsideWorkDirError',
  'NotVectorisableError',
]);

function dataOf(o: Output): Record<string, unknown> | undefined {
  return o.output_type === 'display_data' || o.output_type === 'execute_result'
    ? (o.data as Record<string, unknown>)
    : undefined;
}

/**
 * The result of a peragus_pysd call from its cell's outputs. Throws PysdCellError
 * with Python's ename/evalue when the cell raised, or when no result was displayed.
 */
export function parsePysdResult<T = Record<string, unknown>>(
  outputs: readonly Output[],
  expected?: PysdFunction,
): PysdResult<T> {
  const error = outputs.find((o) => o.output_type === 'error');
  if (error && error.output_type === 'error') {
    throw new PysdCellError(error.ename, error.evalue, error.traceback);
  }
  for (let i = outputs.length - 1; i >= 0; i--) {
    const value = mimeJson(dataOf(outputs[i] as Output), RESULT_MIME) as
      | { peragus?: number; function?: string; result?: unknown }
      | undefined;
    if (value === undefined) continue;
    if (
      typeof value !== 'object' ||
      value === null ||
      typeof value.result !== 'object' ||
      value.result === null
    ) {
      throw new PysdCellError('PeragusResultError', `malformed ${RESULT_MIME} output`);
    }
    const fn = String(value.function ?? '');
    if (expected && fn !== expected) {
      throw new PysdCellError('PeragusResultError', `expected a ${expected} result, got ${fn || 'none'}`);
    }
    return { function: fn, result: value.result as T };
  }
  throw new PysdCellError(
    'PeragusResultError',
    `the cell displayed no ${RESULT_MIME} output (is peragus_pysd importable in the kernel?)`,
  );
}

/** Same, from an ExecuteResult-like object (status/outputs/error of the kernel bridge). */
export function parseExecution<T = Record<string, unknown>>(
  r: {
    status: string;
    outputs: readonly Output[];
    error?: { ename: string; evalue: string; traceback: string[] };
  },
  expected?: PysdFunction,
): PysdResult<T> {
  if (r.status !== 'ok' && r.error) throw new PysdCellError(r.error.ename, r.error.evalue, r.error.traceback);
  if (r.status === 'aborted') throw new PysdCellError('ExecutionAborted', 'the cell was aborted');
  return parsePysdResult<T>(r.outputs, expected);
}

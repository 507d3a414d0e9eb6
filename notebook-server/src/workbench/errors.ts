// Errors a modeller can fix from the browser: each carries a stable code
// (errors/codes.ts; http/errors.ts maps it to a status) and a message that
// names the problem and the fix.
import { type ErrorCode, HTTP_STATUS_OF_CATEGORY, PeragusError } from '../errors/index.ts';

export class WorkbenchError extends PeragusError {
  /** Which form field the problem is in (the form highlights it). */
  readonly field: string | undefined;
  constructor(code: ErrorCode, message: string, field?: string) {
    super(code, message);
    this.name = 'WorkbenchError';
    this.field = field;
  }

  /** The HTTP status the browser gets (from the code's category). */
  get status(): number {
    return HTTP_STATUS_OF_CATEGORY[this.category];
  }

  /** The code, under the name the browser's form reads. */
  get type(): string {
    return this.code;
  }
}

export const badInput = (message: string, field?: string) =>
  new WorkbenchError('invalid_input', message, field);
export const notFound = (message: string) => new WorkbenchError('not_found', message);

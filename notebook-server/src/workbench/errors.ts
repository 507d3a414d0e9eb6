// Errors a modeller can fix from the browser: each carries an HTTP status and
// a stable code (read by http/errors.ts as status/type), and a message that
// names the problem and the fix.
export class WorkbenchError extends Error {
  readonly status: number;
  readonly type: string;
  /** Which form field the problem is in (the form highlights it). */
  readonly field: string | undefined;
  constructor(status: number, type: string, message: string, field?: string) {
    super(message);
    this.name = 'WorkbenchError';
    this.status = status;
    this.type = type;
    this.field = field;
  }
}

export const badInput = (message: string, field?: string) =>
  new WorkbenchError(400, 'invalid_input', message, field);
export const notFound = (message: string) => new WorkbenchError(404, 'not_found', message);

// Maps errors of the layers below to HTTP statuses: one table for both the
// UI API ({error: {code, message}}) and the Jupyter API ({message, reason}).
import type { NextFunction, Request, Response } from 'express';
import { ZodError } from 'zod';
import { PathError } from '../confine/relative.ts';
import { NotebookError } from '../notebook/errors.ts';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code = 'http_error',
  ) {
    super(message);
  }
}

const NOTEBOOK_STATUS: Record<string, number> = {
  session_not_found: 404,
  cell_not_found: 404,
  cell_busy: 409,
  session_dead: 409,
  session_closed: 409,
  invalid_cell: 400,
  not_supported: 409,
  kernel_not_found: 404,
  kernel_spec_not_found: 404,
  session_kernel: 409,
};

export function statusOf(err: unknown): { status: number; code: string; message: string } {
  if (err instanceof HttpError) return { status: err.status, code: err.code, message: err.message };
  if (err instanceof ZodError) {
    const issue = err.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    return {
      status: 400,
      code: 'invalid_request',
      message: `${where}${issue?.message ?? 'invalid request'}`,
    };
  }
  if (err instanceof PathError) {
    const status = err.code === 'not_found' ? 404 : err.code === 'not_a_file' ? 400 : 403;
    return { status, code: err.code, message: err.message };
  }
  if (err instanceof NotebookError) {
    return { status: NOTEBOOK_STATUS[err.code] ?? 500, code: err.code, message: err.message };
  }
  const e = err as { name?: string; code?: unknown; message?: string; status?: number; type?: string };
  // express.json() body errors carry status 400 / 413.
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    return { status: e.status, code: e.type ?? 'bad_request', message: e.message ?? 'bad request' };
  }
  // Catalog and srcmd parse errors are the caller's input, not our failure.
  if (e?.name && /ParseError|QueryRefused|InvalidError/.test(e.name)) {
    return { status: 400, code: typeof e.code === 'string' ? e.code : 'invalid', message: e.message ?? '' };
  }
  return { status: 500, code: 'internal', message: e?.message ?? String(err) };
}

export function uiErrorHandler(log: (m: string) => void) {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    const { status, code, message } = statusOf(err);
    if (status >= 500) log(`ui-api error: ${(err as Error)?.stack ?? String(err)}`);
    if (!res.headersSent) res.status(status).json({ error: { code, message } });
  };
}

/** Jupyter Server's error body: {message, reason}. */
export function jupyterErrorHandler(log: (m: string) => void) {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    const { status, code, message } = statusOf(err);
    if (status >= 500) log(`api error: ${(err as Error)?.stack ?? String(err)}`);
    if (!res.headersSent) res.status(status).json({ message, reason: code });
  };
}

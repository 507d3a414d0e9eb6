// Maps errors to HTTP statuses by their code's category (the table is
// HTTP_STATUS_OF_CATEGORY in errors/codes.ts), for both the UI API ({error: {code, message, fix}}) and the
// Jupyter API ({message, reason}). An error that is no PeragusError is ours: 500.
import type { NextFunction, Request, Response } from 'express';
import { ZodError } from 'zod';
import { type ErrorCode, HTTP_STATUS_OF_CATEGORY, PeragusError, reportOf } from '../errors/index.ts';

const CODE_OF_STATUS: Record<number, ErrorCode> = {
  400: 'invalid_input',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  422: 'invalid_input',
  501: 'unsupported',
  503: 'unavailable',
  504: 'timeout',
};

/**
 * A refusal of the HTTP face itself, with its status and the reason string its
 * API speaks (Jupyter's 'NoSuchKernel', the UI's 'no_catalog').
 */
export class HttpError extends PeragusError {
  constructor(
    readonly status: number,
    message: string,
    /** The reason on the wire ({error: {code}} of the UI API, {reason} of the Jupyter API). */
    readonly reason = 'http_error',
  ) {
    super(CODE_OF_STATUS[status] ?? 'internal', message);
  }
}

export interface HttpErrorReport {
  status: number;
  code: string;
  message: string;
  fix?: string;
}

export function statusOf(err: unknown): HttpErrorReport {
  if (err instanceof HttpError) return { status: err.status, code: err.reason, message: err.message };
  if (err instanceof PeragusError) {
    return {
      status: HTTP_STATUS_OF_CATEGORY[err.category],
      code: err.code,
      message: err.message,
      fix: err.fix,
    };
  }
  if (err instanceof ZodError) {
    const issue = err.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    return {
      status: 400,
      code: 'invalid_request',
      message: `${where}${issue?.message ?? 'invalid request'}`,
    };
  }
  // express.json() body errors carry status 400 / 413 and a type.
  const e = err as { message?: string; status?: number; type?: string };
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    return { status: e.status, code: e.type ?? 'bad_request', message: e.message ?? 'bad request' };
  }
  const { code, message, fix } = reportOf(err);
  return { status: 500, code, message, fix };
}

export function uiErrorHandler(log: (m: string) => void) {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    const { status, code, message, fix } = statusOf(err);
    if (status >= 500) log(`ui-api error: ${(err as Error)?.stack ?? String(err)}`);
    if (!res.headersSent) res.status(status).json({ error: { code, message, ...(fix ? { fix } : {}) } });
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

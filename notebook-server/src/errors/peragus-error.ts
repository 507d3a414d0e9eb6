// The one error base: every failure Peragus reports to a caller is a
// PeragusError with a code from ./codes.ts. The message names the problem;
// `fix` names what to do (the error's own, or its code's generic one). The
// faces map the code once each: mcp/tool.ts (toolError) and http/errors.ts.
import { categoryOf, ERROR_CODES, type ErrorCategory, type ErrorCode, isErrorCode } from './codes.ts';

export interface PeragusErrorOptions {
  cause?: unknown;
  /** What the caller should do; defaults to the code's generic fix. */
  fix?: string;
}

export class PeragusError extends Error {
  readonly code: ErrorCode;
  readonly fix: string;
  constructor(code: ErrorCode, message: string, options: PeragusErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.fix = options.fix ?? ERROR_CODES[code].fix;
  }

  get category(): ErrorCategory {
    return categoryOf(this.code);
  }
}

/** What a face reports about any thrown value: a PeragusError's own, else internal. */
export interface ErrorReport {
  code: ErrorCode;
  category: ErrorCategory;
  message: string;
  fix: string;
}

export function reportOf(err: unknown): ErrorReport {
  if (err instanceof PeragusError) {
    return { code: err.code, category: err.category, message: err.message, fix: err.fix };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'internal', category: 'internal', message, fix: ERROR_CODES.internal.fix };
}

/**
 * Where an MCP tool error carries its report (code, category, fix) in the
 * result's _meta; not structuredContent, which clients validate against the
 * tool's output schema.
 */
export const ERROR_META_KEY = 'peragus/error';

/** Reads a report carried over the wire (an MCP result's _meta), if it is one. */
export function reportFrom(value: unknown): ErrorReport | undefined {
  const v = value as Partial<ErrorReport> | undefined;
  if (!v || !isErrorCode(v.code)) return undefined;
  return {
    code: v.code,
    category: categoryOf(v.code),
    message: typeof v.message === 'string' ? v.message : '',
    fix: typeof v.fix === 'string' ? v.fix : ERROR_CODES[v.code].fix,
  };
}

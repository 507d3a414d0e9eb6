// Errors of the catalog layer. Each carries a stable `code` (errors/codes.ts) so
// MCP tools, HTTP and the CLI can map them without parsing text.
import { PeragusError } from '../errors/index.ts';

export type CatalogErrorCode =
  | 'invalid_input'
  | 'checksum_mismatch'
  | 'invalid_artifact'
  | 'result_conflict'
  | 'invalid_transition'
  | 'not_found'
  | 'read_only'
  | 'catalog_locked'
  | 'schema_mismatch'
  | 'query_refused'
  | 'query_timeout'
  | 'query_failed'
  | 'catalog_unavailable';

export class CatalogError extends PeragusError {
  declare readonly code: CatalogErrorCode;
  constructor(code: CatalogErrorCode, message: string, options?: { cause?: unknown; fix?: string }) {
    super(code, message, options);
    this.name = 'CatalogError';
  }
}

export class ChecksumMismatchError extends CatalogError {
  constructor(
    readonly source: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super('checksum_mismatch', `checksum mismatch for ${source}: expected sha256 ${expected}, got ${actual}`);
    this.name = 'ChecksumMismatchError';
  }
}

/** Another process (normally a running `peragus serve`/`mcp`) holds the catalog's write lock. */
export class CatalogLockedError extends CatalogError {
  constructor(
    readonly file: string,
    readonly pid: number | undefined,
    cause: unknown,
  ) {
    super(
      'catalog_locked',
      `the catalog ${file} is in use by another process${pid === undefined ? '' : ` (pid ${pid})`}, ` +
        'normally a running Peragus server; send the query through that server (MCP tool catalog_query) ' +
        'or stop it first',
      { cause },
    );
    this.name = 'CatalogLockedError';
  }
}

export class QueryRefusedError extends CatalogError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('query_refused', `query refused: ${message}`, options);
    this.name = 'QueryRefusedError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

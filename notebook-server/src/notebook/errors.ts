// Errors callers can tell apart (MCP and HTTP map their codes to clear messages / status codes).
import { type ErrorCode, PeragusError } from '../errors/index.ts';

export class NotebookError extends PeragusError {
  constructor(code: ErrorCode, message: string) {
    super(code, message);
  }
}

export class CellNotFoundError extends NotebookError {
  constructor(
    readonly cellId: string,
    readonly sessionId: string,
  ) {
    super('cell_not_found', `cell "${cellId}" not found in session "${sessionId}"`);
  }
}

export class CellBusyError extends NotebookError {
  constructor(cellId: string, sessionId: string, action: string) {
    super('cell_busy', `cannot ${action} cell "${cellId}" of session "${sessionId}": it is running`);
  }
}

export class SessionNotFoundError extends NotebookError {
  constructor(readonly sessionId: string) {
    super('session_not_found', `session "${sessionId}" not found`);
  }
}

export class SessionDeadError extends NotebookError {
  constructor(sessionId: string) {
    super('session_dead', `the kernel of session "${sessionId}" died; call restart() before executing`);
  }
}

export class SessionClosedError extends NotebookError {
  constructor(sessionId: string) {
    super('session_closed', `session "${sessionId}" is closed`);
  }
}

export class InvalidCellError extends NotebookError {
  constructor(message: string) {
    super('invalid_cell', message);
  }
}

/** A change could not be written to the session's work dir (e.g. ENOSPC). */
export class PersistError extends NotebookError {
  constructor(sessionId: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(
      'persist_failed',
      `could not save session "${sessionId}": ${why}. The change is kept in memory and written with the next successful save; free disk space (or fix the work dir), then run or edit a cell again`,
    );
  }
}

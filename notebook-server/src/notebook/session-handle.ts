// One notebook session as a face sees it, wherever it lives: in this process
// (a Session of the SessionManager) or in an experiment container (driven
// through the host's router by tool calls). Faces get a SessionHandle from the
// SessionDirectory (session-directory.ts) and do not ask which kind it is.
import type { Cell } from '../../../srcmd/src/nbformat.ts';
import { NotebookError } from './errors.ts';
import type { SessionInfo } from './session.ts';

/** A session that lives in an experiment container, as the host sees it. */
export type RemoteSessionInfo = SessionInfo & {
  /** Where the session's work dir is on the host (the container's volume). */
  host_work_dir: string;
  container_id: string;
};

/** Sessions in this host's experiment containers, reached through its router (app/remote-sessions.ts). */
export interface RemoteSessions {
  list(): Promise<RemoteSessionInfo[]>;
  /** Null when no live container of this host holds the session. */
  get(id: string): Promise<RemoteSessionInfo | null>;
  /** A notebook/cell tool routed to the session's container; its structured result. */
  call(id: string, tool: string, args: Record<string, unknown>): Promise<Record<string, unknown>>;
}

/** The session's info; a container session's also says where its files are on the host. */
export type HandleInfo = SessionInfo | RemoteSessionInfo;

export interface NewCellRequest {
  cell_type: 'code' | 'markdown';
  source: string;
  filename?: string | undefined;
  /** Insert at this position, or after this cell (default: append). */
  index?: number | undefined;
  after?: string | undefined;
}

export interface ExportedNotebook {
  /** The notebook file's text (srcmd or ipynb). */
  content: string | Buffer;
  /** Files written into the work dir by the export (host sessions write the rerunnable bundle). */
  written: string[] | null;
}

/** The session cannot do this where it lives (e.g. a container session restarts with its container). */
export class NotSupportedError extends NotebookError {
  constructor(message: string) {
    super('not_supported', message);
  }
}

export interface SessionHandle {
  readonly id: string;
  readonly name: string;
  /** The session's work dir on this host (for a container session: its volume). */
  readonly hostWorkDir: string;
  info(): Promise<HandleInfo>;
  /** Deletes the session (its saved state; the work dir's other files stay). */
  delete(): Promise<void>;
  addCell(request: NewCellRequest): Promise<Cell>;
  /** Changes a cell's source / filename, first moving it to `index` when given. */
  updateCell(
    cellId: string,
    patch: { source?: string | undefined; filename?: string | undefined },
    index?: number,
  ): Promise<Cell | { id: string }>;
  deleteCell(cellId: string): Promise<void>;
  /** Refuses now what execute would refuse later: an unknown cell, a session that cannot run. */
  checkRunnable(cellId: string): Promise<void>;
  /** Runs a cell (or 'all'); resolves when it finished. */
  execute(cellId: string, options: { timeoutMs?: number | undefined }): Promise<unknown>;
  /** Cancels queued cells and interrupts the running one. */
  interrupt(): Promise<Record<string, unknown>>;
  restart(): Promise<{ state: string }>;
  exportNotebook(format: 'srcmd' | 'ipynb'): Promise<ExportedNotebook>;
}

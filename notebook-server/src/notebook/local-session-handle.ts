// A SessionHandle over a session of this process (the SessionManager's).
import type { Cell } from '../../../srcmd/src/nbformat.ts';
import { readInside } from '../confine/fs.ts';
import { NotebookError } from './errors.ts';
import { exportNotebook } from './export.ts';
import type { SessionManager } from './manager.ts';
import type { Session } from './session.ts';
import type { ExportedNotebook, HandleInfo, NewCellRequest, SessionHandle } from './session-handle.ts';

export class LocalSessionHandle implements SessionHandle {
  readonly #session: Session;
  readonly #sessions: Pick<SessionManager, 'delete'>;
  constructor(session: Session, sessions: Pick<SessionManager, 'delete'>) {
    this.#session = session;
    this.#sessions = sessions;
  }

  get id(): string {
    return this.#session.id;
  }

  get name(): string {
    return this.#session.name;
  }

  get hostWorkDir(): string {
    return this.#session.workDir;
  }

  async info(): Promise<HandleInfo> {
    return this.#session.info();
  }

  async delete(): Promise<void> {
    await this.#sessions.delete(this.#session.id);
  }

  addCell(request: NewCellRequest): Promise<Cell> {
    const position =
      request.index !== undefined
        ? { index: request.index }
        : request.after !== undefined
          ? { after: request.after }
          : undefined;
    return this.#session.addCell(
      {
        cell_type: request.cell_type,
        source: request.source,
        ...(request.filename !== undefined ? { filename: request.filename } : {}),
      },
      position,
    );
  }

  async updateCell(
    cellId: string,
    patch: { source?: string; filename?: string },
    index?: number,
  ): Promise<Cell> {
    if (index !== undefined) await this.#session.moveCell(cellId, index);
    return this.#session.updateCell(cellId, patch);
  }

  deleteCell(cellId: string): Promise<void> {
    return this.#session.deleteCell(cellId);
  }

  async checkRunnable(cellId: string): Promise<void> {
    const s = this.#session;
    if (cellId !== 'all') s.getCell(cellId);
    if (s.state === 'dead' || s.state === 'closed') {
      throw new NotebookError(`session_${s.state}`, `session ${s.id} is ${s.state}; restart it first`);
    }
  }

  execute(cellId: string, options: { timeoutMs?: number | undefined }): Promise<unknown> {
    const opts = { timeoutMs: options.timeoutMs };
    return cellId === 'all' ? this.#session.execute('all', opts) : this.#session.execute(cellId, opts);
  }

  async interrupt(): Promise<Record<string, unknown>> {
    const cancelled = this.#session.cancel();
    return { interrupted: await this.#session.interrupt(), cancelled };
  }

  async restart(): Promise<{ state: string }> {
    await this.#session.restart();
    return { state: this.#session.state };
  }

  /** The same bundle as notebook_export: written to exports/ (the .src.md with its .outputs.json, so `peragus rerun` can compare). */
  async exportNotebook(format: 'srcmd' | 'ipynb'): Promise<ExportedNotebook> {
    const out = await exportNotebook(this.#session, format);
    const main = out.artifacts[0] as { path: string };
    return {
      content: readInside(this.#session.workDir, main.path, { what: 'export' }),
      written: out.artifacts.map((a) => a.path),
    };
  }
}

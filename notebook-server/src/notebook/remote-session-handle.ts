// A SessionHandle over a session in an experiment container: every change is a
// notebook/cell tool call routed to the container's node server.
import type { Cell } from '../../../srcmd/src/nbformat.ts';
import { CellNotFoundError } from './errors.ts';
import {
  type ExportedNotebook,
  type HandleInfo,
  type NewCellRequest,
  NotSupportedError,
  type RemoteSessionInfo,
  type RemoteSessions,
  type SessionHandle,
} from './session-handle.ts';

export class RemoteSessionHandle implements SessionHandle {
  #known: RemoteSessionInfo;
  readonly #remote: RemoteSessions;
  constructor(
    /** The session as last read from its container. */
    known: RemoteSessionInfo,
    remote: RemoteSessions,
  ) {
    this.#known = known;
    this.#remote = remote;
  }

  get id(): string {
    return this.#known.id;
  }

  get name(): string {
    return this.#known.name;
  }

  get hostWorkDir(): string {
    return this.#known.host_work_dir;
  }

  async info(): Promise<HandleInfo> {
    return this.#known;
  }

  async delete(): Promise<void> {
    await this.#call('notebook_delete');
  }

  async addCell(request: NewCellRequest): Promise<Cell> {
    const added = await this.#call('cell_add', { ...request, execute: false });
    const id = String(added.cell_id);
    const cell = {
      id,
      cell_type: request.cell_type,
      source: request.source,
      outputs: [],
      execution_count: null,
      metadata: {},
    };
    this.#known = { ...this.#known, cells: [...this.#known.cells, cell as Cell] };
    return cell as Cell;
  }

  async updateCell(
    cellId: string,
    patch: { source?: string; filename?: string },
    index?: number,
  ): Promise<Cell | { id: string }> {
    if (index !== undefined)
      throw new NotSupportedError('cells of a container session cannot be moved from the browser');
    await this.#call('cell_update', { cell_id: cellId, ...patch });
    const fresh = await this.#remote.get(this.id);
    if (fresh) this.#known = fresh;
    return fresh?.cells.find((c) => c.id === cellId) ?? { id: cellId };
  }

  async deleteCell(cellId: string): Promise<void> {
    await this.#call('cell_delete', { cell_id: cellId });
  }

  async checkRunnable(cellId: string): Promise<void> {
    if (cellId !== 'all' && !this.#known.cells.some((c) => c.id === cellId)) {
      throw new CellNotFoundError(cellId, this.id);
    }
  }

  execute(cellId: string, options: { timeoutMs?: number | undefined }): Promise<unknown> {
    return this.#call('cell_execute', {
      cell_id: cellId,
      ...(options.timeoutMs !== undefined ? { timeout_ms: options.timeoutMs } : {}),
    });
  }

  interrupt(): Promise<Record<string, unknown>> {
    return this.#call('cell_interrupt');
  }

  async restart(): Promise<{ state: string }> {
    throw new NotSupportedError('a container session restarts with its container');
  }

  async exportNotebook(format: 'srcmd' | 'ipynb'): Promise<ExportedNotebook> {
    const out = await this.#call('notebook_export', { format, inline: true });
    return { content: String(out.content ?? ''), written: null };
  }

  #call(tool: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.#remote.call(this.id, tool, args);
  }
}

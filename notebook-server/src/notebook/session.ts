// One notebook session: cells, a kernel, a serial execution queue, events,
// and persistence of every change to the session's work dir.
import { join } from 'node:path';
import type { Cell, CodeCell, Notebook, Output } from '../../../srcmd/src/nbformat.ts';
import type { Owner } from '../confine/walk.ts';
import type { Kernel } from '../kernel/types.ts';
import { appendOutput, type CellPosition, makeCell, type NewCell, uniqueFilename } from './cells.ts';
import {
  CellBusyError,
  CellNotFoundError,
  InvalidCellError,
  PersistError,
  SessionClosedError,
  SessionDeadError,
} from './errors.ts';
import type { EventBus, SessionEvent, SessionEventBody, SessionState } from './events.ts';
import type { KernelSlot, KernelSource } from './kernel-slot.ts';
import { ExecutionQueue } from './queue.ts';
import type { CellRunResult, ExecuteOptions, QueueHost } from './run.ts';
import {
  type CellRun,
  SESSION_FORMAT,
  type SessionRecord,
  SessionStore,
  type StoredSession,
  settleStaleRuns,
} from './store.ts';

/**
 * How long a change nobody waits for may stay in memory only. A cell's "queued" and "running"
 * states matter on disk for a cell that runs long enough for a crash to catch it; a quick cell's
 * completion save writes them with its outputs, one atomic replace instead of three (on a file
 * system without a journal, each replaced file is an inode that every new file must step over
 * for seconds after).
 */
const QUIET_SAVE_MS = 250;

export interface SessionInfo {
  id: string;
  experiment_id: string;
  name: string;
  work_dir: string;
  state: SessionState;
  running_cell_id: string | null;
  queued_cell_ids: string[];
  created_at: string;
  updated_at: string;
  /** Last event seq issued. */
  seq: number;
  /** The notebook's .src.md (its outputs are beside it in .outputs.json). */
  notebook_file: string;
  cells: Cell[];
  /** Run status of code cells that were queued or run, by cell id. */
  runs: Record<string, CellRun>;
}

export interface SessionOptions {
  /** Metadata and cells, fresh or read back by loadSession. */
  stored: StoredSession;
  kernelSource: KernelSource;
  bus: EventBus;
  /** Who owns the files the session makes in its work dir (the experiment's user, under a root server). */
  fileOwner?: Owner | undefined;
  /** Whether its notebook's and record's writes are flushed to disk (SessionManagerOptions.flush). */
  flush?: boolean;
}

export class Session implements QueueHost {
  readonly id: string;
  readonly experimentId: string;
  readonly workDir: string;
  readonly createdAt: string;
  /** Who owns the files the session makes in its work dir (unset: this process's user). */
  readonly fileOwner: Owner | undefined;
  /** Whether its writes are flushed to disk (its exports' too). */
  readonly flush: boolean;
  name: string;
  readonly #notebookBase: string;
  #updatedAt: string;
  #cells: Cell[];
  readonly #runs: Map<string, CellRun>;
  #seq: number;
  readonly #bus: EventBus;
  readonly #store: SessionStore;
  readonly #slot: KernelSlot;
  readonly #queue: ExecutionQueue;
  #quietSave: NodeJS.Timeout | null = null;

  constructor({ stored, kernelSource, bus, fileOwner, flush = true }: SessionOptions) {
    const { record } = stored;
    this.id = record.id;
    this.experimentId = record.experiment_id;
    this.workDir = record.work_dir;
    this.createdAt = record.created_at;
    this.fileOwner = fileOwner;
    this.flush = flush;
    this.name = record.name;
    this.#updatedAt = record.updated_at;
    this.#notebookBase = record.notebook_base;
    this.#cells = structuredClone(stored.cells);
    this.#runs = settleStaleRuns(record.runs);
    this.#seq = record.seq;
    this.#bus = bus;
    this.#store = new SessionStore(
      record.work_dir,
      record.id,
      () => ({ record: this.toRecord(), notebook: this.toNotebook() }),
      record.seq,
      { owner: fileOwner, sync: flush },
    );
    this.#queue = new ExecutionQueue(this, kernelSource, record.work_dir);
    this.#slot = this.#queue.slot;
  }

  // ---- read side -----------------------------------------------------------

  get state(): SessionState {
    return this.#slot.state;
  }

  get cells(): Cell[] {
    return structuredClone(this.#cells);
  }

  /** Its latest kernel's own output outside cells (its start, warnings, how it died). */
  get kernelOutput(): string {
    return this.#slot.kernelOutput;
  }

  /** The live kernel, if started: Jupyter clients attach to it (GET /api/kernels/{id}/channels). */
  get kernel(): Kernel | null {
    return this.#slot.kernel;
  }

  /** The session's kernel, started if needed (a Jupyter client attaching to the experiment). */
  acquireKernel(): Promise<Kernel> {
    this.#assertOpen();
    return this.#slot.acquire();
  }

  getCell(cellId: string): Cell {
    return structuredClone(this.#find(cellId));
  }

  getCellRun(cellId: string): CellRun {
    this.#find(cellId);
    return structuredClone(this.#runs.get(cellId) ?? { status: 'idle' as const });
  }

  info(): SessionInfo {
    const r = this.toRecord();
    return {
      id: r.id,
      experiment_id: r.experiment_id,
      name: r.name,
      work_dir: r.work_dir,
      state: this.state,
      running_cell_id: this.#queue.runningCellId,
      queued_cell_ids: this.#queue.queuedCellIds,
      created_at: r.created_at,
      updated_at: r.updated_at,
      seq: this.#seq,
      notebook_file: join(r.work_dir, `${r.notebook_base}.src.md`),
      cells: this.cells,
      runs: r.runs,
    };
  }

  /** The notebook as srcmd / ipynb export see it. */
  toNotebook(): Notebook {
    return {
      title: this.name,
      language: 'python',
      cells: structuredClone(this.#cells),
      metadata: { peragus: { session_id: this.id, experiment_id: this.experimentId } },
    };
  }

  toRecord(): SessionRecord {
    return {
      format: SESSION_FORMAT,
      id: this.id,
      experiment_id: this.experimentId,
      name: this.name,
      work_dir: this.workDir,
      created_at: this.createdAt,
      updated_at: this.#updatedAt,
      notebook_base: this.#notebookBase,
      seq: this.#seq,
      runs: Object.fromEntries(structuredClone([...this.#runs])),
    };
  }

  // ---- cells ---------------------------------------------------------------

  /** Inserts a cell (default: at the end) and persists it. */
  async addCell(spec: NewCell = {}, position?: CellPosition): Promise<Cell> {
    this.#assertOpen();
    // Generated names repeat (two runs of one experiment type): a taken file
    // name gets a suffix, so the notebook always stays writable as srcmd.
    const filename =
      spec.filename === undefined ? undefined : uniqueFilename(spec.filename, this.#filenames());
    const cell = makeCell(
      filename === undefined ? spec : { ...spec, filename },
      new Set(this.#cells.map((c) => c.id)),
    );
    this.#cells.splice(this.#insertIndex(position), 0, cell);
    try {
      await this.save();
    } catch (err) {
      // The call fails and leaves no cell behind: memory matches what is on disk.
      this.#cells = this.#cells.filter((c) => c !== cell);
      throw err;
    }
    this.#queue.announce('cell_added', cell.id);
    return structuredClone(cell);
  }

  /**
   * Changes a cell's source / filename. A changed source clears the cell's
   * outputs: the notebook is the record of the experiment, and outputs of
   * code that is no longer there would misstate it. A queued cell runs the
   * new source; a running cell cannot be edited.
   */
  async updateCell(cellId: string, patch: { source?: string; filename?: string }): Promise<Cell> {
    this.#assertOpen();
    const cell = this.#find(cellId);
    if (this.#queue.runningCellId === cellId) throw new CellBusyError(cellId, this.id, 'update');
    if (patch.filename !== undefined) {
      if (cell.cell_type !== 'code')
        throw new InvalidCellError(`cell "${cellId}" is markdown: it has no filename`);
      if (patch.filename !== cell.filename && this.#filenames().has(patch.filename))
        throw new InvalidCellError(
          `another cell already has the file name "${patch.filename}": pick a name not used in this notebook`,
        );
    }
    if (patch.source !== undefined && patch.source !== cell.source) {
      cell.source = patch.source;
      if (cell.cell_type === 'code') {
        cell.outputs = [];
        cell.execution_count = null;
        if (this.#runs.get(cellId)?.status !== 'queued') this.#runs.delete(cellId);
      }
    }
    if (patch.filename !== undefined && cell.cell_type === 'code') cell.filename = patch.filename;
    await this.#changed('cell_updated', cellId);
    return structuredClone(cell);
  }

  /** Moves a cell to another position (index clamped to the notebook); its outputs stay. */
  async moveCell(cellId: string, index: number): Promise<Cell> {
    this.#assertOpen();
    const cell = this.#find(cellId);
    this.#cells = this.#cells.filter((c) => c.id !== cellId);
    this.#cells.splice(Math.max(0, Math.min(Math.trunc(index), this.#cells.length)), 0, cell);
    await this.#changed('cell_moved', cellId);
    return structuredClone(cell);
  }

  /** Removes a cell (cancelling it if queued). A running cell must be interrupted first. */
  async deleteCell(cellId: string): Promise<void> {
    this.#assertOpen();
    this.#find(cellId);
    if (this.#queue.runningCellId === cellId) throw new CellBusyError(cellId, this.id, 'delete');
    this.#queue.cancel([cellId], 'the cell was deleted');
    this.#cells = this.#cells.filter((c) => c.id !== cellId);
    this.#runs.delete(cellId);
    await this.#changed('cell_deleted', cellId);
  }

  // ---- execution -----------------------------------------------------------

  /**
   * Queues one code cell, or every code cell in order ('all': stops at the
   * first error, like Jupyter's Run All). Resolves when the cell(s) finished;
   * a failing cell resolves with status 'error', it does not reject.
   */
  execute(target: 'all', options?: ExecuteOptions): Promise<CellRunResult[]>;
  execute(cellId: string, options?: ExecuteOptions): Promise<CellRunResult>;
  execute(target: string, options: ExecuteOptions = {}): Promise<CellRunResult | CellRunResult[]> {
    try {
      this.#assertOpen();
      if (this.state === 'dead') throw new SessionDeadError(this.id);
      if (target === 'all') {
        const ids = this.#cells.filter((c) => c.cell_type === 'code').map((c) => c.id);
        return Promise.all(this.#queue.enqueue(ids, options, true));
      }
      const cell = this.#find(target);
      if (cell.cell_type === 'markdown') {
        return Promise.resolve({
          cell_id: cell.id,
          status: 'ok',
          execution_count: null,
          outputs: [],
          duration_ms: 0,
        });
      }
      const [run] = this.#queue.enqueue([cell.id], options, false);
      return run!;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Interrupts the running cell (the queue then goes on). Resolves false when nothing was running. */
  interrupt(): Promise<boolean> {
    return this.#queue.interrupt();
  }

  /** Cancels queued cells (all, or the given ids); returns the ids cancelled. */
  cancel(cellIds?: string[]): string[] {
    return this.#queue.cancel(cellIds, 'cancelled by request');
  }

  /** Cancels everything queued and interrupts the running cell. */
  async stop(): Promise<void> {
    this.cancel();
    await this.interrupt();
  }

  /** Replaces the kernel with a fresh one (also after it died). Queued cells are cancelled; outputs are kept. */
  async restart(): Promise<void> {
    this.#assertOpen();
    await this.#queue.restart();
  }

  /** Reports progress of long work in the running cell (or the session) to subscribers. */
  reportProgress(p: { progress: number; total?: number; message?: string; cell_id?: string | null }): void {
    this.emit({
      type: 'experiment.progress',
      cell_id: p.cell_id ?? this.#queue.runningCellId,
      progress: p.progress,
      ...(p.total !== undefined ? { total: p.total } : {}),
      ...(p.message !== undefined ? { message: p.message } : {}),
    });
  }

  /** Stops the kernel and the queue; the persisted state stays (server shutdown). */
  async close(): Promise<void> {
    if (this.#slot.state === 'closed') return;
    await this.#queue.close();
    if (this.#quietSave) await this.save().catch(() => undefined);
    await this.#store.flush();
  }

  /** Closes and removes the session's saved state (the work dir's other files stay). */
  async destroy(): Promise<void> {
    await this.close();
    await this.#store.remove();
    this.#bus.forget(this.id);
  }

  // ---- QueueHost: what the execution queue needs from its session --------

  codeSource(cellId: string): string | undefined {
    return this.#codeCell(cellId)?.source;
  }

  resetOutputs(cellId: string): void {
    const cell = this.#codeCell(cellId);
    if (!cell) return;
    cell.outputs = [];
    cell.execution_count = null;
  }

  appendOutput(cellId: string, output: Output): number {
    const cell = this.#codeCell(cellId);
    return cell ? appendOutput(cell.outputs, output) : -1;
  }

  replaceOutput(cellId: string, index: number, output: Output): void {
    const cell = this.#codeCell(cellId);
    if (cell && index >= 0 && index < cell.outputs.length) cell.outputs[index] = output;
  }

  setExecutionCount(cellId: string, count: number): void {
    const cell = this.#codeCell(cellId);
    if (cell) cell.execution_count = count;
  }

  cellResult(cellId: string): { outputs: Output[]; execution_count: number | null } {
    const cell = this.#codeCell(cellId);
    return cell
      ? { outputs: structuredClone(cell.outputs), execution_count: cell.execution_count }
      : { outputs: [], execution_count: null };
  }

  setRun(cellId: string, run: CellRun | undefined): void {
    if (run) this.#runs.set(cellId, run);
    else this.#runs.delete(cellId);
  }

  emit(body: SessionEventBody): SessionEvent {
    const seq = ++this.#seq;
    this.#store.reserveSeq(seq);
    const event = {
      ...body,
      experiment_id: this.experimentId,
      session_id: this.id,
      timestamp: new Date().toISOString(),
      seq,
    } as SessionEvent;
    this.#bus.publish(event);
    return event;
  }

  /**
   * Persists now. A failure is reported as a notebook.error event and rejects
   * with a PersistError, so the call that caused the change fails; the state
   * stays in memory and the next save writes all of it.
   */
  async save(): Promise<void> {
    // This save writes everything in memory, so a pending quiet one has nothing left to do.
    if (this.#quietSave) clearTimeout(this.#quietSave);
    this.#quietSave = null;
    this.#updatedAt = new Date().toISOString();
    try {
      await this.#store.save();
    } catch (err) {
      const error = new PersistError(this.id, err);
      this.emit({ type: 'notebook.error', cell_id: null, code: 'persist_failed', message: error.message });
      throw error;
    }
  }

  saveSoon(): void {
    if (this.#quietSave) return;
    this.#quietSave = setTimeout(() => {
      this.#quietSave = null;
      this.save().catch(() => undefined);
    }, QUIET_SAVE_MS);
  }

  // ---- internals -----------------------------------------------------------

  async #changed(reason: string, cellId: string): Promise<void> {
    await this.save();
    this.#queue.announce(reason, cellId);
  }

  #codeCell(cellId: string): CodeCell | undefined {
    const cell = this.#cells.find((c) => c.id === cellId);
    return cell?.cell_type === 'code' ? cell : undefined;
  }

  #filenames(): Set<string> {
    const names = new Set<string>();
    for (const c of this.#cells)
      if (c.cell_type === 'code' && c.filename !== undefined) names.add(c.filename);
    return names;
  }

  #find(cellId: string): Cell {
    const cell = this.#cells.find((c) => c.id === cellId);
    if (!cell) throw new CellNotFoundError(cellId, this.id);
    return cell;
  }

  #insertIndex(position: CellPosition | undefined): number {
    if (!position) return this.#cells.length;
    if ('index' in position) {
      if (!Number.isInteger(position.index)) throw new InvalidCellError(`index must be an integer`);
      return Math.max(0, Math.min(position.index, this.#cells.length));
    }
    const anchor = 'after' in position ? position.after : position.before;
    const i = this.#cells.findIndex((c) => c.id === anchor);
    if (i < 0) throw new CellNotFoundError(anchor, this.id);
    return 'after' in position ? i + 1 : i;
  }

  #assertOpen(): void {
    if (this.#slot.state === 'closed') throw new SessionClosedError(this.id);
  }
}

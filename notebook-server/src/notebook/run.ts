// What running a cell takes and gives: the options, the result, and what the
// execution queue (queue.ts) needs from its session (session.ts), which owns
// the cells. Types only, so the session and the queue both depend on this file
// and not on each other's internals.
import type { Output } from '../../../srcmd/src/nbformat.ts';
import type { CellError, SessionEvent, SessionEventBody } from './events.ts';
import type { CellRun } from './store.ts';

export interface ExecuteOptions {
  /** The cell is interrupted (then, if it does not stop, its kernel replaced) after this long. */
  timeoutMs?: number;
  /** After a timeout's interrupt, how long the cell may take to stop before its kernel is replaced (default 5 s). */
  interruptGraceMs?: number;
}

export interface CellRunResult {
  cell_id: string;
  status: 'ok' | 'error' | 'cancelled';
  execution_count: number | null;
  outputs: Output[];
  duration_ms: number | null;
  error?: CellError;
  /** The cell ran but its outputs could not be saved (why); they stay in memory for the next save. */
  persist_error?: string;
}

/** What the queue needs from its session: the session owns the cells, the queue asks it to change them. */
export interface QueueHost {
  readonly id: string;
  /** The source of a code cell, or undefined when there is no such code cell (any more). */
  codeSource(cellId: string): string | undefined;
  /** Clears a code cell's outputs and execution count before it runs. */
  resetOutputs(cellId: string): void;
  /** Adds an output (a stream continues the previous one); returns its index. */
  appendOutput(cellId: string, output: Output): number;
  /** Replaces the output at `index` (a display updated in place). */
  replaceOutput(cellId: string, index: number, output: Output): void;
  setExecutionCount(cellId: string, count: number): void;
  /** A copy of a code cell's outputs and execution count (empty when the cell is gone). */
  cellResult(cellId: string): { outputs: Output[]; execution_count: number | null };
  setRun(cellId: string, run: CellRun | undefined): void;
  emit(body: SessionEventBody): SessionEvent;
  /** Persists; rejects with a PersistError (already reported as a notebook.error event). */
  save(): Promise<void>;
  /**
   * Persists a change nobody waits for (a cell queued, running or cancelled) within a short
   * delay, or with the next save() if that comes first; a failure is reported as an event.
   */
  saveSoon(): void;
}

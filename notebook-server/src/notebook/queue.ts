// The serial execution queue of a session: one cell at a time on its kernel,
// outputs streamed as events, timeouts, interrupts, and kernel death. The queue
// is the one owner of a run (timeout, then interrupt, then a replaced kernel);
// the session is the one owner of the cells: the queue changes a cell only
// through QueueHost.

import type { Output } from '../../../srcmd/src/nbformat.ts';
import type { Kernel } from '../kernel/types.ts';
import type { CellError } from './events.ts';
import { KernelSlot, type KernelSource } from './kernel-slot.ts';
import { progressOf } from './progress.ts';
import type { CellRunResult, ExecuteOptions, QueueHost } from './run.ts';

/** A cell stopped by a timeout gets this long to honour the interrupt before its kernel is replaced. */
const INTERRUPT_GRACE_MS = 5000;
/** When execute rejects, how long to wait for the kernel's 'dead' event before calling it a plain failure. */
const DEATH_SETTLE_MS = 500;

interface Batch {
  stopped: boolean;
}

interface Item {
  cellId: string;
  timeoutMs: number | undefined;
  graceMs: number;
  batch: Batch | null;
  resolve: (result: CellRunResult) => void;
}

interface Current {
  cellId: string;
  abort: (error: CellError) => void;
}

type Outcome =
  | { status: 'ok' | 'error' | 'cancelled'; count: number | null; error?: CellError; extra?: Output }
  | undefined;

/**
 * What a dead kernel's output says about its death: a native crash's report (from "Fatal Python
 * error" to the stack's end, without the list of loaded extension modules), else its last lines.
 */
export function lastWords(stderrTail: string): string[] {
  const lines = stderrTail.trimEnd().split('\n');
  const fatal = lines.findLastIndex((l) => l.startsWith('Fatal Python error'));
  let words = fatal >= 0 ? lines.slice(fatal, fatal + 40) : lines.slice(-20);
  const modules = words.findIndex((l) => l.startsWith('Extension modules:'));
  if (modules >= 0) words = words.slice(0, modules);
  while (words.length > 0 && words.at(-1)?.trim() === '') words.pop();
  while (words.length > 0 && words[0]?.trim() === '') words.shift();
  return words.length > 0 ? ['The kernel process wrote before it died:', ...words] : [];
}

function cellError(
  kind: CellError['kind'],
  ename: string,
  evalue: string,
  traceback: string[] = [],
): CellError {
  return { kind, ename, evalue, traceback };
}

export class ExecutionQueue {
  readonly slot: KernelSlot;
  #items: Item[] = [];
  #current: Current | null = null;
  #pump: Promise<void> = Promise.resolve();
  #draining = false;

  readonly #host: QueueHost;
  constructor(host: QueueHost, source: KernelSource, workDir: string) {
    this.#host = host;
    this.slot = new KernelSlot(host.id, source, workDir, {
      onState: () => this.announce('state'),
      onDeath: (reason, tail) => this.#onDeath(reason, tail),
      onStartFailed: (err) => {
        // The bridge's start errors carry the kernel's stderr tail; the contract does not type it.
        const tail = (err as { stderrTail?: unknown }).stderrTail;
        host.emit({
          type: 'notebook.error',
          cell_id: this.#current?.cellId ?? null,
          code: 'kernel_start_failed',
          message: `the kernel did not start: ${err.message}`,
          ...(typeof tail === 'string' && tail ? { stderr_tail: tail } : {}),
        });
      },
    });
  }

  get runningCellId(): string | null {
    return this.#current?.cellId ?? null;
  }

  get queuedCellIds(): string[] {
    return this.#items.map((i) => i.cellId);
  }

  /** Emits notebook.state.changed with the queue as it is now. */
  announce(reason?: string, cellId?: string): void {
    this.#host.emit({
      type: 'notebook.state.changed',
      cell_id: cellId ?? null,
      state: this.slot.state,
      running_cell_id: this.runningCellId,
      queued_cell_ids: this.queuedCellIds,
      ...(reason ? { reason } : {}),
    });
  }

  enqueue(cellIds: string[], options: ExecuteOptions, asBatch: boolean): Promise<CellRunResult>[] {
    const batch = asBatch ? { stopped: false } : null;
    const runs = cellIds.map(
      (cellId) =>
        new Promise<CellRunResult>((resolve) => {
          this.#items.push({
            cellId,
            timeoutMs: options.timeoutMs,
            graceMs: options.interruptGraceMs ?? INTERRUPT_GRACE_MS,
            batch,
            resolve,
          });
          this.#host.setRun(cellId, { status: 'queued' });
        }),
    );
    if (cellIds.length > 0) {
      this.announce('queued');
      this.#saveQuietly();
      if (!this.#draining) {
        this.#draining = true;
        this.#pump = this.#drain();
      }
    }
    return runs;
  }

  /** Removes queued cells (all, or those listed) and reports each as cancelled. */
  cancel(cellIds: string[] | undefined, why: string): string[] {
    const pick = cellIds ? new Set(cellIds) : null;
    const removed = this.#items.filter((i) => !pick || pick.has(i.cellId));
    if (removed.length === 0) return [];
    this.#items = this.#items.filter((i) => !removed.includes(i));
    for (const item of removed) this.#settleCancelled(item, why);
    this.announce('cancelled');
    this.#saveQuietly();
    return removed.map((i) => i.cellId);
  }

  async interrupt(): Promise<boolean> {
    const kernel = this.slot.kernel;
    if (!this.#current || !kernel) return false;
    await kernel.interrupt();
    return true;
  }

  async restart(): Promise<void> {
    this.cancel(undefined, 'the kernel was restarted before this cell ran');
    this.#current?.abort(
      cellError('cancelled', 'KernelRestarted', 'the kernel was restarted while this cell was running'),
    );
    await this.slot.restart();
  }

  async close(): Promise<void> {
    this.cancel(undefined, 'the session was closed');
    this.#current?.abort(
      cellError('cancelled', 'SessionClosed', 'the session was closed while this cell was running'),
    );
    await this.slot.close();
    await this.#pump;
  }

  async #drain(): Promise<void> {
    try {
      for (let item = this.#items.shift(); item; item = this.#items.shift()) {
        await this.#run(item);
      }
      this.slot.setBusy(false);
    } finally {
      // Cleared in the same tick as the empty check, so an enqueue never finds a drain that is about to end.
      this.#draining = false;
    }
  }

  async #run(item: Item): Promise<void> {
    const source = this.#host.codeSource(item.cellId);
    if (source === undefined || item.batch?.stopped) {
      this.#settleCancelled(
        item,
        source !== undefined ? 'an earlier cell of the run failed' : 'the cell no longer exists',
      );
      return;
    }
    let abort!: (error: CellError) => void;
    const aborted = new Promise<CellError>((resolve) => {
      abort = resolve;
    });
    const current: Current = { cellId: item.cellId, abort };
    this.#current = current;
    const startedAt = new Date();
    this.announce('running', item.cellId);

    const got = await Promise.race([
      this.slot.acquire().then(
        (kernel) => ({ kernel }),
        (err: Error) => ({ startError: err }),
      ),
      aborted.then((error) => ({ error })),
    ]);
    let outcome: Outcome;
    if ('error' in got) {
      outcome = {
        status: got.error.kind === 'cancelled' ? 'cancelled' : 'error',
        count: null,
        error: got.error,
      };
    } else if ('startError' in got) {
      const error = cellError('kernel_died', 'KernelStartFailed', got.startError.message);
      outcome = { status: 'error', count: null, error };
    } else {
      outcome = await this.#execute(source, item, current, got.kernel, aborted, startedAt);
    }
    await this.#finish(item, outcome, startedAt);
  }

  async #execute(
    source: string,
    item: Item,
    current: Current,
    kernel: Kernel,
    aborted: Promise<CellError>,
    startedAt: Date,
  ): Promise<Outcome> {
    const { cellId } = item;
    this.#host.resetOutputs(cellId);
    this.#host.setRun(cellId, { status: 'running', started_at: startedAt.toISOString() });
    this.slot.setBusy(true);
    this.#host.emit({ type: 'notebook.cell.executing', cell_id: cellId });
    this.#saveQuietly();

    let timedOut = false;
    const timers: NodeJS.Timeout[] = [];
    const timeoutError = () =>
      cellError('timeout', 'CellTimeoutError', `the cell ran longer than its ${item.timeoutMs} ms timeout`);
    if (item.timeoutMs !== undefined) {
      const ms = item.timeoutMs;
      timers.push(
        setTimeout(() => {
          timedOut = true;
          this.#host.emit({
            type: 'notebook.error',
            cell_id: cellId,
            code: 'cell_timeout',
            message: `cell ${cellId} exceeded its ${ms} ms timeout; interrupting the kernel`,
          });
          kernel.interrupt().catch(() => {});
          timers.push(
            setTimeout(() => {
              this.#host.emit({
                type: 'notebook.error',
                cell_id: cellId,
                code: 'cell_timeout',
                message: `cell ${cellId} ignored the interrupt; the kernel is replaced and its state is lost`,
              });
              current.abort(timeoutError());
              void this.slot.discard(kernel);
            }, item.graceMs),
          );
        }, ms),
      );
    }

    const displays = new Map<string, number>();
    const onOutput = (output: Output, displayId?: string) => {
      if (this.#current !== current) return; // late output of an abandoned run
      const index = this.#host.appendOutput(cellId, output);
      if (displayId) displays.set(displayId, index);
      this.#host.emit({ type: 'notebook.cell.output', cell_id: cellId, output, output_index: index });
    };
    // A display updated in place (e.g. peragus_pysd's run progress): the same
    // index is replaced for clients, and progress payloads become progress events.
    const onUpdateDisplay = (displayId: string, output: Output) => {
      const index = displays.get(displayId);
      if (this.#current !== current || index === undefined) return;
      this.#host.replaceOutput(cellId, index, output);
      this.#host.emit({ type: 'notebook.cell.output', cell_id: cellId, output, output_index: index });
      const progress = output.output_type === 'display_data' ? progressOf(output.data) : undefined;
      if (progress) this.#host.emit({ type: 'experiment.progress', cell_id: cellId, ...progress });
    };
    const result = await Promise.race([
      kernel.execute(source, { onOutput, onUpdateDisplay }).then(
        (reply) => ({ reply }),
        (err: Error) => ({ failure: err }),
      ),
      aborted.then((error) => ({ error })),
    ]);
    for (const t of timers) clearTimeout(t);

    if ('reply' in result) {
      const { reply } = result;
      const count = reply.executionCount;
      if (reply.status === 'ok') return { status: 'ok', count };
      if (reply.status === 'aborted') {
        return {
          status: 'cancelled',
          count,
          error: cellError('cancelled', 'Aborted', 'the kernel aborted this cell'),
        };
      }
      const e = reply.error ?? { ename: 'Error', evalue: 'the cell failed', traceback: [] };
      const error = timedOut ? timeoutError() : cellError('exception', e.ename, e.evalue, e.traceback);
      return { status: 'error', count, error };
    }
    if ('failure' in result) {
      // The bridge may reject before its 'dead' event: give the death a moment to be reported.
      this.slot.noticeDeath(kernel, result.failure.message);
      const settled = await Promise.race([
        aborted,
        new Promise<null>((r) => setTimeout(r, DEATH_SETTLE_MS, null)),
      ]);
      if (settled) return this.#aborted(settled);
      if (timedOut) return { status: 'error', count: null, error: timeoutError() };
      const error = cellError('exception', result.failure.name, result.failure.message);
      return { status: 'error', count: null, error };
    }
    return this.#aborted(result.error);
  }

  #aborted(error: CellError): Outcome {
    const status = error.kind === 'cancelled' ? 'cancelled' : 'error';
    // Record in the notebook itself why the cell stopped, where no kernel traceback says it.
    const extra: Output | undefined =
      error.kind === 'kernel_died' || error.kind === 'timeout'
        ? { output_type: 'error', ename: error.ename, evalue: error.evalue, traceback: error.traceback }
        : undefined;
    return { status, count: null, error, ...(extra ? { extra } : {}) };
  }

  async #finish(item: Item, outcome: Outcome, startedAt: Date): Promise<void> {
    const { cellId } = item;
    const o = outcome ?? {
      status: 'error',
      count: null,
      error: cellError('exception', 'Error', 'no outcome'),
    };
    const completedAt = new Date();
    const duration = completedAt.getTime() - startedAt.getTime();
    if (o.extra) this.#host.appendOutput(cellId, o.extra);
    if (o.count !== null) this.#host.setExecutionCount(cellId, o.count);
    this.#host.setRun(cellId, {
      status: o.status,
      started_at: startedAt.toISOString(),
      completed_at: completedAt.toISOString(),
      duration_ms: duration,
      ...(o.error ? { error: o.error } : {}),
    });
    this.#current = null;
    // On disk before anyone hears the cell completed: a crash never loses a completed cell's output.
    // A failed save fails the caller's run (persist_error); the outputs stay in memory for the next save.
    const persistError = await this.#host.save().then(
      () => undefined,
      (err: unknown) => (err instanceof Error ? err.message : String(err)),
    );
    const { outputs, execution_count } = this.#host.cellResult(cellId);
    this.#host.emit({
      type: 'notebook.cell.completed',
      cell_id: cellId,
      status: o.status,
      execution_count,
      duration_ms: duration,
      ...(o.error ? { error: o.error } : {}),
    });
    if (o.status !== 'ok' && item.batch) {
      item.batch.stopped = true;
      const rest = this.#items.filter((i) => i.batch === item.batch).map((i) => i.cellId);
      if (rest.length > 0) this.cancel(rest, `cell ${cellId} failed earlier in the same run`);
    }
    // Idle before the caller hears back, so it sees the state it expects.
    if (this.#items.length === 0) this.slot.setBusy(false);
    item.resolve({
      cell_id: cellId,
      status: o.status,
      execution_count,
      outputs,
      duration_ms: duration,
      ...(o.error ? { error: o.error } : {}),
      ...(persistError ? { persist_error: persistError } : {}),
    });
    this.announce('completed', cellId);
  }

  /** Saves where no caller waits on it: a failure is already reported as a notebook.error event. */
  #saveQuietly(): void {
    this.#host.saveSoon();
  }

  #settleCancelled(item: Item, why: string): void {
    const error = cellError('cancelled', 'Cancelled', why);
    const exists = this.#host.codeSource(item.cellId) !== undefined;
    if (exists) this.#host.setRun(item.cellId, { status: 'cancelled', error });
    this.#host.emit({
      type: 'notebook.cell.completed',
      cell_id: item.cellId,
      status: 'cancelled',
      execution_count: null,
      duration_ms: null,
      error,
    });
    item.resolve({
      cell_id: item.cellId,
      status: 'cancelled',
      execution_count: null,
      outputs: this.#host.cellResult(item.cellId).outputs,
      duration_ms: null,
      error,
    });
  }

  #onDeath(reason: string, stderrTail: string): void {
    const current = this.#current;
    this.#host.emit({
      type: 'notebook.error',
      cell_id: current?.cellId ?? null,
      code: 'kernel_died',
      message: `the kernel died (${reason}); restart the session to go on`,
      ...(stderrTail ? { stderr_tail: stderrTail } : {}),
    });
    // Its last words (a native crash's Python stack: kernel_launcher enables faulthandler) are the
    // traceback, so the cell says why the kernel died.
    current?.abort(cellError('kernel_died', 'KernelDied', reason, lastWords(stderrTail)));
    this.cancel(undefined, 'the kernel died before this cell ran');
  }
}

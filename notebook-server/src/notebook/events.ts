// The one schema of session events, shared by the MCP face (logging
// notifications + progress), the WS face and the UI. Types derive from it.
import { z } from 'zod';
import { Output } from '../../../srcmd/src/nbformat.ts';
import { createLogger } from '../log/index.ts';

/** What a session's kernel is doing, as clients see it. */
export const SessionState = z.enum([
  'not_started', // persisted session reopened, or fresh one: the kernel starts on the first execute
  'starting',
  'idle',
  'busy',
  'restarting',
  'dead', // kernel died; restart() makes the session usable again
  'closed', // deleted / shut down
]);
export type SessionState = z.infer<typeof SessionState>;

/** Where a code cell stands in its session's execution queue. */
export const CellRunStatus = z.enum(['idle', 'queued', 'running', 'ok', 'error', 'cancelled']);
export type CellRunStatus = z.infer<typeof CellRunStatus>;

export const CellError = z.object({
  /** exception: the code raised; timeout / kernel_died / cancelled: the session ended the run. */
  kind: z.enum(['exception', 'timeout', 'kernel_died', 'cancelled']),
  ename: z.string(),
  evalue: z.string(),
  traceback: z.array(z.string()),
});
export type CellError = z.infer<typeof CellError>;

const base = {
  experiment_id: z.string(),
  session_id: z.string(),
  /** ISO-8601 time the event was emitted. */
  timestamp: z.string(),
  /** Strictly increasing per session, across server restarts, so a client can resume after the last seq it saw. */
  seq: z.number().int().nonnegative(),
};
const cellId = z.string();

export const CellExecutingEvent = z.object({
  type: z.literal('notebook.cell.executing'),
  ...base,
  cell_id: cellId,
});

export const CellOutputEvent = z.object({
  type: z.literal('notebook.cell.output'),
  ...base,
  cell_id: cellId,
  /** The chunk as it arrived. */
  output: Output,
  /** Index in the cell's outputs it landed at; a stream chunk following the same stream is appended there. */
  output_index: z.number().int().nonnegative(),
});

export const CellCompletedEvent = z.object({
  type: z.literal('notebook.cell.completed'),
  ...base,
  cell_id: cellId,
  status: z.enum(['ok', 'error', 'cancelled']),
  execution_count: z.number().int().nullable(),
  duration_ms: z.number().nonnegative().nullable(),
  error: CellError.optional(),
});

export const StateChangedEvent = z.object({
  type: z.literal('notebook.state.changed'),
  ...base,
  cell_id: cellId.nullable(),
  state: SessionState,
  running_cell_id: cellId.nullable(),
  queued_cell_ids: z.array(cellId),
  /** What changed, e.g. 'cell_added', 'queued', 'kernel_died' (clients refetch cells on cell_* reasons). */
  reason: z.string().optional(),
});

export const NotebookErrorEvent = z.object({
  type: z.literal('notebook.error'),
  ...base,
  cell_id: cellId.nullable(),
  code: z.enum(['kernel_died', 'kernel_start_failed', 'cell_timeout', 'persist_failed', 'internal']),
  message: z.string(),
  /** The kernel's last stderr lines, when the kernel died or failed to start. */
  stderr_tail: z.string().optional(),
});

export const ExperimentProgressEvent = z.object({
  type: z.literal('experiment.progress'),
  ...base,
  cell_id: cellId.nullable(),
  progress: z.number().nonnegative(),
  total: z.number().positive().optional(),
  message: z.string().optional(),
});

export const SessionEvent = z.discriminatedUnion('type', [
  CellExecutingEvent,
  CellOutputEvent,
  CellCompletedEvent,
  StateChangedEvent,
  NotebookErrorEvent,
  ExperimentProgressEvent,
]);
export type SessionEvent = z.infer<typeof SessionEvent>;
export type SessionEventType = SessionEvent['type'];
export type SessionEventOf<T extends SessionEventType> = Extract<SessionEvent, { type: T }>;

/** An event before the session stamps it (ids, timestamp, seq). */
export type SessionEventBody = SessionEvent extends infer E
  ? E extends SessionEvent
    ? Omit<E, 'experiment_id' | 'session_id' | 'timestamp' | 'seq'>
    : never
  : never;

export type EventListener = (event: SessionEvent) => void;

export interface EventFilter {
  session_id?: string;
  experiment_id?: string;
  types?: readonly SessionEventType[];
}

export interface EventBusOptions {
  /** Events kept per session for resume (default 1000). */
  replayLimit?: number;
  /** Bytes (JSON) kept per session for resume (default 4 MiB): outputs are the big events. */
  replayBytes?: number;
  /** Sessions whose events are kept (default 1000); the least recently active are dropped first. */
  maxSessions?: number;
  onListenerError?: (error: unknown, event: SessionEvent) => void;
}

interface Recent {
  events: SessionEvent[];
  sizes: number[];
  bytes: number;
}

/** Approximate JSON size: outputs are measured, the small fixed-shape events are not. */
function sizeOf(event: SessionEvent): number {
  return event.type === 'notebook.cell.output' ? JSON.stringify(event.output).length + 200 : 300;
}

/**
 * Fan-out of session events to the faces. Keeps recent events of each session
 * (bounded in count and bytes per session, and in sessions) so a reconnecting
 * client can resume after the seq it saw; a deleted session's are dropped.
 */
export class EventBus {
  readonly #listeners = new Set<{ fn: EventListener; filter: EventFilter | undefined }>();
  /** Insertion order = least recently active first (re-inserted on publish). */
  readonly #recent = new Map<string, Recent>();
  readonly #replayLimit: number;
  readonly #replayBytes: number;
  readonly #maxSessions: number;
  readonly #onListenerError: (error: unknown, event: SessionEvent) => void;

  constructor(options: EventBusOptions = {}) {
    this.#replayLimit = options.replayLimit ?? 1000;
    this.#replayBytes = options.replayBytes ?? 4 * 1024 * 1024;
    this.#maxSessions = options.maxSessions ?? 1000;
    this.#onListenerError =
      options.onListenerError ??
      ((err) => createLogger().warn(`peragus EventBus listener threw: ${String(err)}`));
  }

  /** Returns the unsubscribe function. */
  subscribe(listener: EventListener, filter?: EventFilter): () => void {
    const entry = { fn: listener, filter };
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  publish(event: SessionEvent): void {
    this.#keep(event);
    // Snapshot: a listener may unsubscribe (or subscribe) while we deliver.
    for (const { fn, filter } of [...this.#listeners]) {
      if (!matches(event, filter)) continue;
      try {
        fn(event);
      } catch (err) {
        // One broken subscriber (e.g. a closed socket) must not starve the others or the session.
        this.#onListenerError(err, event);
      }
    }
  }

  /** Events of a session with seq > afterSeq still held in memory, oldest first. */
  replay(sessionId: string, afterSeq = -1): SessionEvent[] {
    return (this.#recent.get(sessionId)?.events ?? []).filter((e) => e.seq > afterSeq);
  }

  /** Sessions and bytes held for resume (for tests and diagnostics). */
  get retained(): { sessions: number; events: number; bytes: number } {
    let events = 0;
    let bytes = 0;
    for (const r of this.#recent.values()) {
      events += r.events.length;
      bytes += r.bytes;
    }
    return { sessions: this.#recent.size, events, bytes };
  }

  #keep(event: SessionEvent): void {
    let recent = this.#recent.get(event.session_id);
    if (recent) this.#recent.delete(event.session_id);
    else recent = { events: [], sizes: [], bytes: 0 };
    this.#recent.set(event.session_id, recent);
    const size = sizeOf(event);
    recent.events.push(event);
    recent.sizes.push(size);
    recent.bytes += size;
    while (
      recent.events.length > 1 &&
      (recent.events.length > this.#replayLimit || recent.bytes > this.#replayBytes)
    ) {
      recent.events.shift();
      recent.bytes -= recent.sizes.shift() ?? 0;
    }
    while (this.#recent.size > this.#maxSessions) {
      const oldest = this.#recent.keys().next().value as string;
      this.#recent.delete(oldest);
    }
  }

  /** Drops a session's replay buffer (after delete). */
  forget(sessionId: string): void {
    this.#recent.delete(sessionId);
  }

  get listenerCount(): number {
    return this.#listeners.size;
  }
}

function matches(event: SessionEvent, filter: EventFilter | undefined): boolean {
  if (!filter) return true;
  if (filter.session_id !== undefined && filter.session_id !== event.session_id) return false;
  if (filter.experiment_id !== undefined && filter.experiment_id !== event.experiment_id) return false;
  if (filter.types && !filter.types.includes(event.type)) return false;
  return true;
}

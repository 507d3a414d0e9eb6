// Public API of notebook sessions.
export { type CellPosition, type NewCell, newId } from './cells.ts';
export {
  CellBusyError,
  CellNotFoundError,
  InvalidCellError,
  NotebookError,
  SessionClosedError,
  SessionDeadError,
  SessionNotFoundError,
} from './errors.ts';
export {
  CellCompletedEvent,
  CellError,
  CellExecutingEvent,
  CellOutputEvent,
  CellRunStatus,
  EventBus,
  type EventFilter,
  type EventListener,
  ExperimentProgressEvent,
  NotebookErrorEvent,
  SessionEvent,
  type SessionEventBody,
  type SessionEventOf,
  type SessionEventType,
  SessionState,
  StateChangedEvent,
} from './events.ts';
export type { KernelSource } from './kernel-slot.ts';
export {
  type CreateSessionOptions,
  type ReopenReport,
  SessionManager,
  type SessionManagerOptions,
} from './manager.ts';
export { type CellRunResult, type ExecuteOptions, Session, type SessionInfo } from './session.ts';
export { CellRun, loadSession, SessionRecord, type StoredSession, sessionFile } from './store.ts';

// Ties a tool call to its session's events: experiment.progress events become
// MCP progress notifications, and each finished cell bumps the count, so the
// client sees a long run advance (and keeps its request alive).
import type { EventBus } from '../../notebook/events.ts';
import type { Session } from '../../notebook/session.ts';
import type { ToolCall } from '../tool.ts';

export function watchSessionProgress(events: EventBus, session: Session, call: ToolCall): () => void {
  if (call.progressToken === undefined) return () => undefined;
  let completed = 0;
  return events.subscribe(
    (event) => {
      if (event.type === 'experiment.progress') {
        void call.progress(event.progress, event.total, event.message);
      } else if (event.type === 'notebook.cell.completed') {
        completed += 1;
        void call.progress(completed, undefined, `cell ${event.cell_id} ${event.status}`);
      }
    },
    { session_id: session.id },
  );
}

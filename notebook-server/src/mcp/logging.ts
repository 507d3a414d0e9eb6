// Notebook events as MCP log notifications, quiet by default: nothing is sent
// until the client sets a level with logging/setLevel, then only events at or
// above it (cell outputs are debug, errors error, the rest info). Clients that
// want one session's changes subscribe to its state resource instead.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { type LoggingLevel, SetLevelRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { EventBus, SessionEvent } from '../notebook/events.ts';

const SEVERITY: Record<LoggingLevel, number> = {
  debug: 0,
  info: 1,
  notice: 2,
  warning: 3,
  error: 4,
  critical: 5,
  alert: 6,
  emergency: 7,
};

export function levelOf(event: SessionEvent): LoggingLevel {
  if (event.type === 'notebook.error') return 'error';
  if (event.type === 'notebook.cell.output') return 'debug';
  return 'info';
}

/** Forwards events at the client's level; returns the unsubscribe function. */
export function forwardEventsAsLogs(server: McpServer, events: EventBus): () => void {
  let level: LoggingLevel | undefined;
  server.server.removeRequestHandler('logging/setLevel');
  server.server.setRequestHandler(SetLevelRequestSchema, async (req) => {
    level = req.params.level;
    return {};
  });
  return events.subscribe((event) => {
    if (level === undefined || !server.isConnected()) return;
    const eventLevel = levelOf(event);
    if (SEVERITY[eventLevel] < SEVERITY[level]) return;
    void server
      .sendLoggingMessage({ level: eventLevel, logger: 'peragus.events', data: event })
      .catch(() => undefined);
  });
}

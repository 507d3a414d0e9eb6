// What a tool call carries through the host (MCP face, router, plans): its
// abort signal, a progress sink and the connection's server (elicitation).
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';

export interface ToolCall {
  /** Cancelled by the client (notifications/cancelled, tasks/cancel) or the connection closing. */
  signal: AbortSignal;
  /** Sends a progress notification if the client asked for progress. */
  progress(progress: number, total?: number, message?: string): Promise<void>;
  /** The connection's server, e.g. for elicitation. */
  server: McpServer;
  /** Raw progress token (forwarded when the host routes the call to a container). */
  progressToken: string | number | undefined;
}

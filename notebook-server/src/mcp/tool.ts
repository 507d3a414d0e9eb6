// A small layer over McpServer.registerTool: every tool is a ToolDef with a
// zod input shape and a handler returning a JSON summary. The layer turns
// results into structured content, errors into `isError` results with the
// message, keeps long calls alive with progress notifications, and (on the
// host) forwards calls that name a container to that container's MCP server.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { ZodRawShape, z } from 'zod';

export interface ToolCall {
  /** Cancelled by the client (notifications/cancelled) or the connection closing. */
  signal: AbortSignal;
  /** Sends a progress notification if the client asked for progress. */
  progress(progress: number, total?: number, message?: string): Promise<void>;
  /** The connection's server, e.g. for elicitation. */
  server: McpServer;
  /** Raw progress token (forwarded when the host routes the call to a container). */
  progressToken: string | number | undefined;
}

export interface ToolDef<S extends ZodRawShape = ZodRawShape> {
  name: string;
  title?: string;
  description: string;
  input: S;
  /** Calls with container_id (or a session that lives in a container) are forwarded there. */
  routable?: boolean;
  readOnly?: boolean;
  handler: (args: z.infer<z.ZodObject<S>>, call: ToolCall) => Promise<unknown>;
}

/** Typed helper so each tool's args are inferred from its shape. */
export function defineTool<S extends ZodRawShape>(def: ToolDef<S>): ToolDef {
  return def as unknown as ToolDef;
}

/** Forwards a routable tool call to a container when the args say so; undefined = handle here. */
export type ToolRouter = (
  name: string,
  args: Record<string, unknown>,
  call: ToolCall,
) => Promise<CallToolResult> | undefined;

/** A handler result passed to the client as it is (e.g. with an image content block). */
export class RawResult {
  constructor(readonly result: CallToolResult) {}
}

/** A tool error whose message is meant for the caller as is. */
export class ToolInputError extends Error {
  override name = 'ToolInputError';
}

const HEARTBEAT_MS = 10_000;

export function registerTools(server: McpServer, tools: ToolDef[], router?: ToolRouter): void {
  for (const tool of tools) {
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: tool.description,
        inputSchema: tool.input,
        annotations: tool.readOnly ? { readOnlyHint: true } : undefined,
      },
      async (args: Record<string, unknown>, extra) => {
        const progressToken = extra._meta?.progressToken;
        let lastProgress = 0;
        const call: ToolCall = {
          signal: extra.signal,
          server,
          progressToken,
          progress: async (progress, total, message) => {
            if (progressToken === undefined) return;
            lastProgress = Math.max(lastProgress, progress);
            await extra
              .sendNotification({
                method: 'notifications/progress',
                params: { progressToken, progress: lastProgress, total, message },
              })
              .catch(() => undefined);
          },
        };
        // Heartbeat: clients reset their request timeout on progress, so a
        // 10-minute run never times out while it is still working.
        const started = Date.now();
        const heartbeat =
          progressToken === undefined
            ? undefined
            : setInterval(() => {
                const secs = Math.round((Date.now() - started) / 1000);
                void call.progress(lastProgress, undefined, `${tool.name}: running for ${secs}s`);
              }, HEARTBEAT_MS);
        try {
          const routed = tool.routable ? router?.(tool.name, args, call) : undefined;
          if (routed) return await routed;
          const result = await tool.handler(args as never, call);
          return result instanceof RawResult ? result.result : toolResult(result);
        } catch (err) {
          return toolError(err);
        } finally {
          if (heartbeat) clearInterval(heartbeat);
        }
      },
    );
  }
}

export function toolResult(result: unknown): CallToolResult {
  const structured =
    result !== null && typeof result === 'object' && !Array.isArray(result)
      ? (result as Record<string, unknown>)
      : { result };
  return {
    content: [{ type: 'text', text: JSON.stringify(structured, null, 1) }],
    structuredContent: structured,
  };
}

export function toolError(err: unknown): CallToolResult {
  const message = err instanceof Error ? err.message : String(err);
  return { isError: true, content: [{ type: 'text', text: message }] };
}

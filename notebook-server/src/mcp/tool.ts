// A small layer over McpServer.registerTool: every tool is a ToolDef with a
// zod input shape, a zod output shape (declared as outputSchema; the SDK
// validates structuredContent against it), the four behaviour hints, and a
// handler returning the structured result. The layer turns errors into
// `isError` results with the message, keeps long calls alive with progress
// notifications, and (on the host) forwards calls that name a container to
// that container's MCP server. register.ts registers them (tools marked
// `task` through tasks.ts).
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type {
  CallToolResult,
  ContentBlock,
  ServerNotification,
  ServerRequest,
  ToolAnnotations,
} from '@modelcontextprotocol/sdk/types.js';
import { type ZodRawShape, z } from 'zod';
import {
  ERROR_META_KEY,
  type ErrorCode,
  PeragusError,
  type PeragusErrorOptions,
  reportOf,
} from '../errors/index.ts';
import type { ToolCall } from '../orchestrator/tool-call.ts';

export type { ToolCall } from '../orchestrator/tool-call.ts';

/** The MCP tool annotations, required on every tool (no defaults: each is a decision). */
export interface ToolHints {
  /** Changes nothing. */
  readOnly: boolean;
  /** May delete or overwrite something (only meaningful when not read-only). */
  destructive: boolean;
  /** Calling twice with the same arguments has no further effect. */
  idempotent: boolean;
  /** Reaches outside Peragus' own state (files the client names, other processes). */
  openWorld: boolean;
}

export interface ToolDef<S extends ZodRawShape = ZodRawShape, O extends ZodRawShape = ZodRawShape> {
  name: string;
  title?: string;
  description: string;
  input: S;
  output: O;
  hints: ToolHints;
  /** Calls with container_id (or a session that lives in a container) are forwarded there. */
  routable?: boolean;
  /** Long runs: the client may call it as an MCP task (poll, cancel, fetch after reconnecting). */
  task?: boolean;
  /** Returns the structured result (checked against `output` by the SDK) or a RawResult. */
  handler: (args: z.infer<z.ZodObject<S>>, call: ToolCall) => Promise<unknown>;
}

/** Typed helper so each tool's args are inferred from its input shape. */
export function defineTool<S extends ZodRawShape, O extends ZodRawShape>(def: ToolDef<S, O>): ToolDef {
  return def as unknown as ToolDef;
}

/** Forwards a routable tool call to a container when the args say so; undefined = handle here. */
export type ToolRouter = (
  name: string,
  args: Record<string, unknown>,
  call: ToolCall,
) => Promise<CallToolResult> | undefined;

/** A handler result with extra content blocks (resource links, an image asked for). */
export class RawResult {
  constructor(readonly result: CallToolResult) {}
}

/** Structured result plus extra content blocks after its JSON text. */
export function withContent(structured: object, extra: ContentBlock[]): RawResult {
  const base = toolResult(structured);
  return new RawResult({ ...base, content: [...base.content, ...extra] });
}

/** A tool error whose message is meant for the caller as is. */
export class ToolInputError extends PeragusError {
  override name = 'ToolInputError';
  constructor(message: string, options?: PeragusErrorOptions & { code?: ErrorCode }) {
    super(options?.code ?? 'invalid_input', message, options);
  }
}

const HEARTBEAT_MS = 10_000;

export function annotationsOf(hints: ToolHints): ToolAnnotations {
  return {
    readOnlyHint: hints.readOnly,
    destructiveHint: hints.destructive,
    idempotentHint: hints.idempotent,
    openWorldHint: hints.openWorld,
  };
}

/** What tools/list shows of a tool, for plain and task tools alike. */
export function toolConfig(tool: ToolDef) {
  return {
    ...(tool.title !== undefined ? { title: tool.title } : {}),
    description: tool.description,
    inputSchema: tool.input,
    // Loose: results may carry more fields than declared (an agent reads them too).
    outputSchema: z.looseObject(tool.output),
    annotations: annotationsOf(tool.hints),
  };
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** The ToolCall of one request: abort signal, progress, heartbeat. */
export function toolCallOf(
  server: McpServer,
  extra: Extra,
  toolName: string,
): { call: ToolCall; stop(): void } {
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
          void call.progress(lastProgress, undefined, `${toolName}: running for ${secs}s`);
        }, HEARTBEAT_MS);
  return { call, stop: () => heartbeat && clearInterval(heartbeat) };
}

/** Runs a tool (routed or here) and returns its CallToolResult; errors become isError results. */
export async function runTool(
  tool: ToolDef,
  args: Record<string, unknown>,
  call: ToolCall,
  router?: ToolRouter,
): Promise<CallToolResult> {
  try {
    const routed = tool.routable ? router?.(tool.name, args, call) : undefined;
    if (routed) return await routed;
    const result = await tool.handler(args as never, call);
    return result instanceof RawResult ? result.result : toolResult(result);
  } catch (err) {
    return toolError(err);
  }
}

/** The structured result, and the same JSON (compact) as text for clients that read text only. */
export function toolResult(result: unknown): CallToolResult {
  const structured =
    result !== null && typeof result === 'object' && !Array.isArray(result)
      ? (result as Record<string, unknown>)
      : { result };
  return {
    content: [{ type: 'text', text: JSON.stringify(structured) }],
    structuredContent: structured,
  };
}

/**
 * The one mapping of errors to MCP results: the message as text (as before),
 * and the code, category and fix in _meta["peragus/error"]. A routed error
 * keeps the code the experiment's node gave it.
 */
export function toolError(err: unknown): CallToolResult {
  const { code, category, message, fix } = reportOf(err);
  return {
    isError: true,
    content: [{ type: 'text', text: message }],
    _meta: { [ERROR_META_KEY]: { code, category, fix } },
  };
}

// Routes notebook/PySD tool calls that name a container (or a session that
// lives in one) to that container's node server over its MCP endpoint, so an
// agent talks to one MCP server only. Progress is forwarded, and the node's
// session events are re-published on the host's bus (WS clients, MCP logging).
// Calls made by the host itself (plans, the UI) are typed by the node tools'
// schemas: `call` parses the result with the tool's declared output shape.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { type CallToolResult, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { ERROR_META_KEY, type ErrorCode, PeragusError, reportFrom } from '../errors/index.ts';
import { lazySchemaValidator } from '../jsonrpc/schema-validator.ts';
import { type EventBus, SessionEvent } from '../notebook/events.ts';
import { ENDPOINT_RELATIVE_PATH } from '../runtime/types.ts';
import {
  type NodeToolArgs,
  type NodeToolName,
  type NodeToolResult,
  parseNodeResult,
} from '../schemas/node-tools.ts';
import { PERAGUS_VERSION } from '../version.ts';
import { connectSocketTransport } from './socket-transport.ts';
import type { ToolCall } from './tool-call.ts';

/** A node tool failed: its message is meant for the caller; its code is the node's (else tool_failed). */
export class RoutedToolError extends PeragusError {
  override name = 'RoutedToolError';
  constructor(message: string, code: ErrorCode = 'tool_failed', fix?: string) {
    super(code, message, fix === undefined ? {} : { fix });
  }
}

/** Calls routed to a container may run for hours (a long sweep); progress keeps them alive. */
const ROUTED_TIMEOUT_MS = 24 * 3600 * 1000;

export interface ContainerEndpoint {
  container_id: string;
  endpoint: string;
  /** The experiment volume holding the endpoint socket: connections never follow a link there. */
  work_dir?: string;
  /** A runtime whose experiments are not reached by a socket path (swarm: the hub) connects this way. */
  connect?: () => Promise<Transport>;
}

export class ContainerRouter {
  readonly #clients = new Map<string, Promise<Client>>();
  readonly #sessionToContainer = new Map<string, string>();
  /** Session ids whose events came from each container (dropped from the bus when it goes). */
  readonly #sessionsSeen = new Map<string, Set<string>>();

  readonly #lookup: (containerId: string) => Promise<ContainerEndpoint>;
  readonly #events: EventBus;
  constructor(lookup: (containerId: string) => Promise<ContainerEndpoint>, events: EventBus) {
    this.#lookup = lookup;
    this.#events = events;
  }

  /** The container a session lives in, if the host learned it. */
  containerOf(sessionId: string): string | undefined {
    return this.#sessionToContainer.get(sessionId);
  }

  rememberSession(sessionId: string, containerId: string): void {
    this.#sessionToContainer.set(sessionId, containerId);
  }

  /** The container a call is for (by container_id, else by its session); undefined: the host itself. */
  targetOf(args: Record<string, unknown>): string | undefined {
    const explicit = typeof args.container_id === 'string' ? args.container_id : undefined;
    return explicit ?? (typeof args.session_id === 'string' ? this.containerOf(args.session_id) : undefined);
  }

  /** Undefined when the call is for the host itself. */
  route(name: string, args: Record<string, unknown>, call: ToolCall): Promise<CallToolResult> | undefined {
    const containerId = this.targetOf(args);
    if (!containerId) return undefined;
    const { container_id: _drop, ...rest } = args;
    return this.forward(containerId, name, rest, call);
  }

  async forward(
    containerId: string,
    name: string,
    args: Record<string, unknown>,
    call?: ToolCall,
  ): Promise<CallToolResult> {
    const client = await this.client(containerId);
    const result = (await client.callTool({ name, arguments: args }, undefined, {
      timeout: ROUTED_TIMEOUT_MS,
      resetTimeoutOnProgress: true,
      ...(call
        ? {
            signal: call.signal,
            onprogress: (p: { progress: number; total?: number; message?: string }) =>
              void call.progress(p.progress, p.total, p.message),
          }
        : {}),
    })) as CallToolResult;
    const sc = result.structuredContent as Record<string, unknown> | undefined;
    if (!result.isError && (name === 'notebook_create' || name === 'notebook_import')) {
      if (typeof sc?.session_id === 'string') this.rememberSession(sc.session_id, containerId);
    }
    if (!result.isError && name === 'notebook_list' && Array.isArray(sc?.sessions)) {
      for (const s of sc.sessions as { session_id?: string }[]) {
        if (s.session_id) this.rememberSession(s.session_id, containerId);
      }
    }
    return result;
  }

  /** Calls a node tool in a container: typed args, and its result parsed with the tool's output schema. */
  async call<N extends NodeToolName>(
    containerId: string,
    name: N,
    args: NodeToolArgs<N>,
    call?: ToolCall,
  ): Promise<NodeToolResult<N>> {
    return parseNodeResult(
      name,
      await this.callRaw(containerId, name, args as Record<string, unknown>, call),
    );
  }

  /** Calls a tool in a container and returns its structured result, or throws its error message. */
  async callRaw(
    containerId: string,
    name: string,
    args: Record<string, unknown>,
    call?: ToolCall,
  ): Promise<Record<string, unknown>> {
    const result = await this.forward(containerId, name, args, call);
    if (result.isError) {
      const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
      const report = reportFrom(result._meta?.[ERROR_META_KEY]);
      throw new RoutedToolError(`${name} in container ${containerId}: ${text}`, report?.code, report?.fix);
    }
    return (result.structuredContent ?? {}) as Record<string, unknown>;
  }

  async client(containerId: string): Promise<Client> {
    let pending = this.#clients.get(containerId);
    if (!pending) {
      pending = this.#connect(containerId);
      this.#clients.set(containerId, pending);
      pending.catch(() => this.#clients.delete(containerId));
    }
    return pending;
  }

  async #connect(containerId: string): Promise<Client> {
    const { endpoint, work_dir, connect } = await this.#lookup(containerId);
    const transport = connect
      ? await connect()
      : await connectSocketTransport(
          endpoint,
          undefined,
          work_dir ? { root: work_dir, socket: ENDPOINT_RELATIVE_PATH } : undefined,
        );
    const client = new Client(
      { name: 'peragus-host', version: PERAGUS_VERSION },
      { jsonSchemaValidator: lazySchemaValidator },
    );
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      const parsed = SessionEvent.safeParse(n.params.data);
      if (n.params.logger === 'peragus.events' && parsed.success) {
        this.#eventSessions(containerId).add(parsed.data.session_id);
        this.#events.publish(parsed.data);
      }
    });
    client.onclose = () => this.#clients.delete(containerId);
    await client.connect(transport);
    await client.setLoggingLevel('debug').catch(() => undefined);
    return client;
  }

  /** Drops the connection and the session map of a destroyed container. */
  async forget(containerId: string): Promise<void> {
    const pending = this.#clients.get(containerId);
    this.#clients.delete(containerId);
    for (const [s, c] of this.#sessionToContainer) if (c === containerId) this.#sessionToContainer.delete(s);
    // The container is gone: so are its sessions, and the events kept for their resume.
    for (const s of this.#sessionsSeen.get(containerId) ?? []) this.#events.forget(s);
    this.#sessionsSeen.delete(containerId);
    if (pending) await (await pending.catch(() => undefined))?.close().catch(() => undefined);
  }

  #eventSessions(containerId: string): Set<string> {
    let seen = this.#sessionsSeen.get(containerId);
    if (!seen) {
      seen = new Set();
      this.#sessionsSeen.set(containerId, seen);
    }
    return seen;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#clients.keys()].map((id) => this.forget(id)));
  }
}

// Long runs as MCP tasks (the 2025-11-25 tasks utility, through the SDK's
// experimental support). A tool marked `task` accepts `params.task`: the
// client gets a task handle at once, polls tasks/get (statusMessage carries
// progress), cancels with tasks/cancel (which aborts the run: a plan stops and
// its containers go), and reads the result with tasks/result, also from a new
// connection of the same MCP session. Clients that do not ask for a task get
// today's behaviour: the call stays open, kept alive by progress.
//
// One registry per host, shared by its MCP sessions: a task belongs to the
// MCP session (Mcp-Session-Id) that created it; other sessions see "unknown
// task". A result is kept for its ttl after the task ends (not after it
// starts: a plan of hours must not expire while it runs).
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { CreateTaskOptions, TaskStore } from '@modelcontextprotocol/sdk/experimental/tasks';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  CancelTaskRequestSchema,
  ErrorCode,
  GetTaskPayloadRequestSchema,
  GetTaskRequestSchema,
  McpError,
  RELATED_TASK_META_KEY,
  type Result,
  type Task,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { ToolCall } from '../orchestrator/tool-call.ts';
import { runTool, type ToolDef, type ToolRouter, toolCallOf, toolConfig } from './tool.ts';

const MIN_TTL_MS = 60_000;
const MAX_TTL_MS = 7 * 24 * 3600_000;
const DEFAULT_TTL_MS = 24 * 3600_000;
const POLL_INTERVAL_MS = 1000;
const INLINE_POLL_MS = 20;
/** Tasks kept at once (working and finished within their ttl), per host. */
const MAX_TASKS = 1000;
/** statusMessage updates (and tasks/status notifications) at most this often per task. */
const STATUS_EVERY_MS = 1000;

const terminal = (s: Task['status']) => s === 'completed' || s === 'failed' || s === 'cancelled';

interface Entry {
  task: Task;
  /** Made for a call without params.task (the SDK polls it for the reply): short-lived, not capped. */
  inline: boolean;
  sessionId: string | undefined;
  result?: Result;
  controller: AbortController;
  timer?: NodeJS.Timeout;
}

export function unknownTask(taskId: string): McpError {
  return new McpError(
    ErrorCode.InvalidParams,
    `unknown task "${taskId}": no task with this id belongs to this MCP session (a task is visible only to the session that created it, until its ttl after it ends); tasks/list shows yours`,
  );
}

export class TaskRegistry implements TaskStore {
  readonly #tasks = new Map<string, Entry>();
  readonly #changed = new EventEmitter().setMaxListeners(0);

  #lookup(taskId: string, sessionId: string | undefined): Entry | undefined {
    const e = this.#tasks.get(taskId);
    if (!e) return undefined;
    if (sessionId !== undefined && e.sessionId !== undefined && e.sessionId !== sessionId) return undefined;
    return e;
  }

  #expireLater(taskId: string, e: Entry): void {
    if (e.timer) clearTimeout(e.timer);
    e.timer = setTimeout(() => this.#tasks.delete(taskId), e.task.ttl ?? DEFAULT_TTL_MS);
    e.timer.unref();
  }

  async createTask(
    params: CreateTaskOptions,
    _id: unknown,
    _req: unknown,
    sessionId?: string,
  ): Promise<Task> {
    const inline = params.context?.inline === true;
    if (!inline && [...this.#tasks.values()].filter((e) => !e.inline).length >= MAX_TASKS) {
      throw new McpError(
        ErrorCode.InvalidRequest,
        `too many tasks (${MAX_TASKS}) are kept: wait for running ones to end or cancel some (tasks/cancel); finished ones expire after their ttl`,
      );
    }
    const requested = inline ? MIN_TTL_MS : typeof params.ttl === 'number' ? params.ttl : DEFAULT_TTL_MS;
    const now = new Date().toISOString();
    const task: Task = {
      taskId: randomBytes(16).toString('hex'),
      status: 'working',
      ttl: Math.min(MAX_TTL_MS, Math.max(MIN_TTL_MS, requested)),
      createdAt: now,
      lastUpdatedAt: now,
      pollInterval: params.pollInterval ?? POLL_INTERVAL_MS,
    };
    this.#tasks.set(task.taskId, { task, inline, sessionId, controller: new AbortController() });
    return { ...task };
  }

  async getTask(taskId: string, sessionId?: string): Promise<Task | null> {
    const e = this.#lookup(taskId, sessionId);
    return e ? { ...e.task } : null;
  }

  async storeTaskResult(
    taskId: string,
    status: 'completed' | 'failed',
    result: Result,
    sessionId?: string,
  ): Promise<void> {
    const e = this.#lookup(taskId, sessionId);
    if (!e) throw unknownTask(taskId);
    if (terminal(e.task.status)) return; // cancelled meanwhile: the cancel stands
    e.result = result;
    this.#set(taskId, e, status);
  }

  async getTaskResult(taskId: string, sessionId?: string): Promise<Result> {
    const e = this.#lookup(taskId, sessionId);
    if (!e) throw unknownTask(taskId);
    if (e.result) return e.result;
    if (e.task.status === 'cancelled') {
      return {
        isError: true,
        content: [{ type: 'text', text: e.task.statusMessage ?? 'the task was cancelled' }],
      };
    }
    throw new McpError(ErrorCode.InvalidRequest, `task ${taskId} is still ${e.task.status}: poll tasks/get`);
  }

  async updateTaskStatus(
    taskId: string,
    status: Task['status'],
    statusMessage?: string,
    sessionId?: string,
  ): Promise<void> {
    const e = this.#lookup(taskId, sessionId);
    if (!e) throw unknownTask(taskId);
    if (terminal(e.task.status)) {
      throw new McpError(
        ErrorCode.InvalidParams,
        `task ${taskId} already ${e.task.status}; a finished task cannot be changed or cancelled`,
      );
    }
    if (statusMessage !== undefined) e.task.statusMessage = statusMessage;
    this.#set(taskId, e, status);
    // tasks/cancel lands here: stop the work (a plan cancels and tears down its containers).
    if (status === 'cancelled') e.controller.abort(new Error('the task was cancelled (tasks/cancel)'));
  }

  async listTasks(cursor?: string, sessionId?: string): Promise<{ tasks: Task[]; nextCursor?: string }> {
    const mine = [...this.#tasks.entries()].filter(([id]) => this.#lookup(id, sessionId));
    const start = cursor ? mine.findIndex(([id]) => id === cursor) + 1 : 0;
    if (cursor && start === 0) throw new Error(`invalid cursor "${cursor}": pass nextCursor unchanged`);
    const page = mine.slice(start, start + 50);
    const next = start + 50 < mine.length ? page.at(-1)?.[0] : undefined;
    return { tasks: page.map(([, e]) => ({ ...e.task })), ...(next ? { nextCursor: next } : {}) };
  }

  /** Aborted when the task is cancelled. */
  signalOf(taskId: string): AbortSignal {
    const e = this.#tasks.get(taskId);
    if (!e) throw unknownTask(taskId);
    return e.controller.signal;
  }

  /** Resolves when the task has ended (or rejects when the signal aborts first). */
  async waitEnded(taskId: string, sessionId: string | undefined, signal: AbortSignal): Promise<Entry> {
    for (;;) {
      const e = this.#lookup(taskId, sessionId);
      if (!e) throw unknownTask(taskId);
      if (terminal(e.task.status)) return e;
      await new Promise<void>((resolve, reject) => {
        const done = () => {
          this.#changed.off(taskId, done);
          signal.removeEventListener('abort', aborted);
          resolve();
        };
        const aborted = () => {
          this.#changed.off(taskId, done);
          reject(new McpError(ErrorCode.RequestTimeout, 'tasks/result was cancelled'));
        };
        this.#changed.on(taskId, done);
        signal.addEventListener('abort', aborted, { once: true });
      });
    }
  }

  /** Cancels every running task (host shutdown). */
  close(): void {
    for (const [id, e] of this.#tasks) {
      if (!terminal(e.task.status)) void this.updateTaskStatus(id, 'cancelled', 'the host stopped');
      if (e.timer) clearTimeout(e.timer);
    }
  }

  #set(taskId: string, e: Entry, status: Task['status']): void {
    e.task.status = status;
    e.task.lastUpdatedAt = new Date().toISOString();
    if (terminal(status)) this.#expireLater(taskId, e);
    this.#changed.emit(taskId);
  }
}

/** Registers a tool that runs inline or, when the client asks, as a task. */
export function registerTaskTool(
  server: McpServer,
  tool: ToolDef,
  tasks: TaskRegistry,
  router: ToolRouter | undefined,
): void {
  const output = z.looseObject(tool.output);
  server.experimental.tasks.registerToolTask(
    tool.name,
    { ...toolConfig(tool), inputSchema: tool.input, execution: { taskSupport: 'optional' } },
    {
      createTask: async (args, extra) => {
        // Without params.task (no ttl asked) the SDK polls the task itself for the inline
        // reply: poll often so a short run is not slowed down.
        const inline = extra.taskRequestedTtl === undefined;
        const task = await extra.taskStore.createTask({
          ttl: extra.taskRequestedTtl ?? DEFAULT_TTL_MS,
          pollInterval: inline ? INLINE_POLL_MS : POLL_INTERVAL_MS,
          context: { inline },
        });
        const id = task.taskId;
        // Inline calls (no params.task) end with their request; task calls only with tasks/cancel.
        const signal = AbortSignal.any([extra.signal, tasks.signalOf(id)]);
        const { call: base, stop } = toolCallOf(server, { ...extra, signal }, tool.name);
        let lastStatus = 0;
        const call: ToolCall = {
          ...base,
          progress: async (progress, total, message) => {
            await base.progress(progress, total, message);
            if (Date.now() - lastStatus < STATUS_EVERY_MS) return;
            lastStatus = Date.now();
            const text = `${message ?? 'working'} (${progress}${total !== undefined ? `/${total}` : ''})`;
            await extra.taskStore.updateTaskStatus(id, 'working', text).catch(() => undefined);
          },
        };
        void runTool(tool, args as Record<string, unknown>, call, router)
          .then(async (result) => {
            // The SDK checks outputs of inline calls only; task results are checked here.
            const checked = result.isError ? undefined : output.safeParse(result.structuredContent);
            if (checked && !checked.success) {
              const text = `${tool.name} produced a result that does not match its outputSchema: ${checked.error.message}`;
              await extra.taskStore.storeTaskResult(id, 'failed', {
                isError: true,
                content: [{ type: 'text', text }],
              });
              return;
            }
            await extra.taskStore.storeTaskResult(id, result.isError ? 'failed' : 'completed', result);
          })
          .catch(() => undefined)
          .finally(stop);
        return { task };
      },
      getTask: async (_args, extra) => {
        const t = await extra.taskStore.getTask(extra.taskId);
        if (!t) throw unknownTask(extra.taskId);
        return t;
      },
      getTaskResult: async (_args, extra) =>
        (await extra.taskStore.getTaskResult(extra.taskId)) as Awaited<
          ReturnType<Parameters<McpServer['registerTool']>[2]>
        >,
    },
  );
}

/** tasks/get, tasks/result and tasks/cancel with errors that name the task and the way out. */
export function installTaskHandlers(server: McpServer, tasks: TaskRegistry): void {
  const s = server.server;
  for (const method of ['tasks/get', 'tasks/result', 'tasks/cancel']) s.removeRequestHandler(method);
  s.setRequestHandler(GetTaskRequestSchema, async (req, extra) => {
    const t = await tasks.getTask(req.params.taskId, extra.sessionId);
    if (!t) throw unknownTask(req.params.taskId);
    return t;
  });
  s.setRequestHandler(GetTaskPayloadRequestSchema, async (req, extra) => {
    const e = await tasks.waitEnded(req.params.taskId, extra.sessionId, extra.signal);
    const result = await tasks.getTaskResult(e.task.taskId, extra.sessionId);
    return { ...result, _meta: { ...result._meta, [RELATED_TASK_META_KEY]: { taskId: e.task.taskId } } };
  });
  s.setRequestHandler(CancelTaskRequestSchema, async (req, extra) => {
    const id = req.params.taskId;
    await tasks.updateTaskStatus(id, 'cancelled', 'cancelled by the client (tasks/cancel)', extra.sessionId);
    const t = await tasks.getTask(id, extra.sessionId);
    if (!t) throw unknownTask(id);
    return t;
  });
}

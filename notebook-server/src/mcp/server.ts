// Builds one McpServer per client connection. Both roles get the notebook and
// PySD tools, the session resources, prompts and completions; the host adds
// its own tools (containers, catalog, plans), a router that forwards calls
// naming a container to that container's node server, the catalog resources
// and a task registry for long runs.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { lazySchemaValidator } from '../jsonrpc/schema-validator.ts';
import { SessionDirectory } from '../notebook/session-directory.ts';
import type { RemoteSessions } from '../notebook/session-handle.ts';
import { PERAGUS_VERSION } from '../version.ts';
import {
  type Completer,
  type CompletionTable,
  installCompletions,
  none,
  startingWith,
} from './completions.ts';
import type { NotebookContext } from './context.ts';
import { FILES_TEMPLATE } from './links.ts';
import { forwardEventsAsLogs } from './logging.ts';
import { PROMPTS, registerPrompts } from './prompts.ts';
import { registerTools } from './register.ts';
import {
  installSubscriptions,
  registerSessionResources,
  type Subscriptions,
  type WorkDirLocator,
} from './resources.ts';
import { installTaskHandlers, type TaskRegistry } from './tasks.ts';
import type { ToolDef, ToolRouter } from './tool.ts';
import { notebookTools } from './tools/notebook.ts';
import { pysdTools } from './tools/pysd.ts';

export const SERVER_NAME = 'peragus';
export const SERVER_VERSION = PERAGUS_VERSION;

export interface McpServerExtras {
  tools?: ToolDef[];
  router?: ToolRouter;
  /** Long runs as MCP tasks (host): one registry shared by the host's connections. */
  tasks?: TaskRegistry;
  /** Sessions this process does not hold (the host's containers), e.g. to read their files. */
  remote?: RemoteSessions;
  /** More completers (experiment and plan ids on the host). */
  completions?: (sessionIds: Completer) => Partial<CompletionTable>;
  /** Registers extra resources etc.; returns a cleanup run when the connection closes. */
  setup?: (server: McpServer, subscriptions: Subscriptions) => (() => void) | undefined;
}

const INSTRUCTIONS =
  'Peragus runs PySD system-dynamics experiments. Typical flow: container_create (optional) → notebook_create → ' +
  'pysd_model_load → pysd_experiment_run → pysd_visualize → notebook_export → experiment_register_result → container_destroy; ' +
  'or experiment_plan_run for N experiments (as an MCP task for long plans). Every action is a notebook cell; files come back ' +
  'as resource links (peragus:// URIs, read with resources/read). Notebook events are sent as log messages only after ' +
  'logging/setLevel. Prompts: design_sensitivity_study, calibrate_to_data, explore_scenarios_and_report.';

export function createMcpServer(ctx: NotebookContext, extras: McpServerExtras = {}): McpServer {
  const server = new McpServer(
    { name: SERVER_NAME, version: SERVER_VERSION },
    {
      capabilities: {
        logging: {},
        completions: {},
        prompts: { listChanged: false },
        resources: { subscribe: true, listChanged: true },
        ...(extras.tasks ? { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } } : {}),
      },
      ...(extras.tasks ? { taskStore: extras.tasks } : {}),
      instructions: INSTRUCTIONS,
      jsonSchemaValidator: lazySchemaValidator,
    },
  );
  const tools = [...notebookTools(ctx), ...pysdTools(ctx), ...(extras.tools ?? [])];
  registerTools(server, tools, extras.router, extras.tasks);
  if (extras.tasks) installTaskHandlers(server, extras.tasks);

  const subscriptions = installSubscriptions(server);
  const directory = new SessionDirectory(ctx.sessions, extras.remote);
  const locate: WorkDirLocator = async (id) => (await directory.locate(id))?.hostWorkDir;
  const offResources = registerSessionResources(server, ctx, subscriptions, locate);
  registerPrompts(server);

  const sessionIds = startingWith(() => ctx.sessions.list().map((s) => s.id));
  const more = extras.completions?.(sessionIds) ?? {};
  const promptArgs = Object.fromEntries(
    PROMPTS.map((p) => [p.name, Object.fromEntries(Object.keys(p.args).map((a) => [a, none]))]),
  );
  installCompletions(server, {
    resources: {
      'notebook://session/{id}/state': { id: sessionIds },
      [FILES_TEMPLATE]: { session_id: sessionIds, path: none },
      ...more.resources,
    },
    prompts: { ...promptArgs, ...more.prompts },
  });

  const offLogs = forwardEventsAsLogs(server, ctx.events);
  const cleanup = extras.setup?.(server, subscriptions);
  const previousOnClose = server.server.onclose;
  server.server.onclose = () => {
    offLogs();
    offResources();
    cleanup?.();
    previousOnClose?.();
  };
  return server;
}

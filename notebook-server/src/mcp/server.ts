// Builds one McpServer per client connection. Both roles get the notebook and
// PySD tools and the session-state resource; the host adds its own tools
// (containers, catalog, plans) and a router that forwards calls naming a
// container to that container's node server.
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { LoggingLevel } from '@modelcontextprotocol/sdk/types.js';
import type { SessionEvent } from '../notebook/events.ts';
import type { NotebookContext } from './context.ts';
import { registerTools, type ToolDef, type ToolRouter } from './tool.ts';
import { notebookTools } from './tools/notebook.ts';
import { pysdTools } from './tools/pysd.ts';

export const SERVER_NAME = 'peragus';
export const SERVER_VERSION = '0.1.0';

export interface McpServerExtras {
  tools?: ToolDef[];
  router?: ToolRouter;
  /** Registers extra resources etc.; returns a cleanup run when the connection closes. */
  setup?: (server: McpServer) => (() => void) | undefined;
}

function levelOf(event: SessionEvent): LoggingLevel {
  if (event.type === 'notebook.error') return 'error';
  if (event.type === 'notebook.cell.output') return 'debug';
  return 'info';
}

export function createMcpServer(ctx: NotebookContext, extras: McpServerExtras = {}): McpServer {
  const server = new McpServer(
    { name: SERVER_NAME, version: SERVER_VERSION },
    {
      capabilities: { logging: {}, resources: { subscribe: true, listChanged: true } },
      instructions:
        'Peragus runs PySD system-dynamics experiments. Typical flow: container_create (optional) → notebook_create → ' +
        'pysd_model_load → pysd_experiment_run → pysd_visualize → notebook_export → experiment_register_result → container_destroy. ' +
        'Every action is a notebook cell; results are artifact references (path, sha256, bytes, media_type).',
    },
  );
  registerTools(server, [...notebookTools(ctx), ...pysdTools(ctx), ...(extras.tools ?? [])], extras.router);

  server.registerResource(
    'notebook-session-state',
    new ResourceTemplate('notebook://session/{id}/state', {
      list: async () => ({
        resources: ctx.sessions.list().map((s) => ({
          uri: `notebook://session/${s.id}/state`,
          name: `${s.name} (${s.id})`,
          mimeType: 'application/json',
        })),
      }),
    }),
    { description: 'A session: state, cells and their run status.', mimeType: 'application/json' },
    async (uri, variables) => {
      const session = ctx.sessions.get(String(variables.id));
      return {
        contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(session.info()) }],
      };
    },
  );

  // Session events reach the client as logging notifications (one schema with the WS stream).
  const unsubscribe = ctx.events.subscribe((event) => {
    if (!server.isConnected()) return;
    void server
      .sendLoggingMessage({ level: levelOf(event), logger: 'peragus.events', data: event })
      .catch(() => undefined);
  });
  const cleanup = extras.setup?.(server);
  const previousOnClose = server.server.onclose;
  server.server.onclose = () => {
    unsubscribe();
    cleanup?.();
    previousOnClose?.();
  };
  return server;
}

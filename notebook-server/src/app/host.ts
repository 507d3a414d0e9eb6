// Composition root of the host role: embedded notebook sessions, containers
// across runtimes, the router to their node servers, and one factory of MCP
// servers (one per client connection) shared by stdio and HTTP.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { NotebookContext } from '../mcp/context.ts';
import { ContainerRouter } from '../mcp/router.ts';
import { createMcpServer } from '../mcp/server.ts';
import type { ToolDef } from '../mcp/tool.ts';
import { containerTools } from '../mcp/tools/container.ts';
import { ContainerService, type RuntimeKind } from '../orchestrator/containers.ts';
import { peragusHome } from '../runtime/paths.ts';
import { createNotebookServices, type NotebookServices } from './notebook-services.ts';

export interface HostOptions {
  home?: string;
  runtime?: RuntimeKind;
  poolSize?: number;
}

export interface Host {
  home: string;
  notebook: NotebookServices;
  containers: ContainerService;
  router: ContainerRouter;
  ctx: NotebookContext;
  /** Extra host tools registered by later layers (catalog, plans). */
  extraTools: ToolDef[];
  makeMcpServer(): McpServer;
  close(): Promise<void>;
}

export async function createHost(options: HostOptions = {}): Promise<Host> {
  const home = options.home ?? peragusHome();
  mkdirSync(home, { recursive: true });
  const notebook = await createNotebookServices({
    root: join(home, 'sessions'),
    ...(options.poolSize !== undefined ? { poolSize: options.poolSize } : {}),
  });
  const containers = new ContainerService(home, options.runtime);
  const router = new ContainerRouter((id) => containers.endpoint(id), notebook.events);
  containers.onDestroyed = (id) => router.forget(id);
  const ctx: NotebookContext = {
    role: 'host',
    sessions: notebook.sessions,
    events: notebook.events,
    workDir: join(home, 'sessions'),
  };
  const extraTools: ToolDef[] = [];
  const host: Host = {
    home,
    notebook,
    containers,
    router,
    ctx,
    extraTools,
    makeMcpServer: () =>
      createMcpServer(ctx, {
        tools: [...containerTools(containers, router, home), ...extraTools],
        router: (name, args, call) => router.route(name, args, call),
      }),
    async close() {
      await router.close();
      await notebook.close();
    },
  };
  return host;
}

// Composition root of the host role: embedded notebook sessions, containers
// across runtimes, the router to their node servers, and one factory of MCP
// servers (one per client connection) shared by stdio and HTTP.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Catalog } from '../catalog/catalog.ts';
import { type Config, loadConfig } from '../config/index.ts';
import { createLogger, type Logger } from '../log/index.ts';
import { registerCatalogResources } from '../mcp/catalog-resources.ts';
import type { NotebookContext } from '../mcp/context.ts';
import { createMcpServer } from '../mcp/server.ts';
import { TaskRegistry } from '../mcp/tasks.ts';
import type { ToolDef } from '../mcp/tool.ts';
import { catalogTools } from '../mcp/tools/catalog.ts';
import { containerTools } from '../mcp/tools/container.ts';
import { approvalOf, planTools } from '../mcp/tools/plan.ts';
import { KernelService } from '../notebook/kernel-service.ts';
import { ContainerService, type RuntimeKind } from '../orchestrator/containers.ts';
import { PlanRunner } from '../orchestrator/plans.ts';
import { ContainerRouter } from '../orchestrator/router.ts';
import { routeTranslatingAhead, TranslateAhead } from '../orchestrator/translate-ahead.ts';
import { cgroupSupport } from '../runtime/local-cgroups.ts';
import { isolationWarning, localIsolation } from '../sandbox/bwrap.ts';
import { hostedSessions } from './hosted-sessions.ts';
import { createNotebookServices, type NotebookServices } from './notebook-services.ts';
import { remoteSessions } from './remote-sessions.ts';
import { sandboxedKernels } from './session-kernels.ts';

export interface HostOptions {
  /** The parsed settings (default: loadConfig() of this process's environment, once, here). */
  config?: Config;
  /** Where diagnostics go (default: a stderr logger at the config's level). */
  log?: Logger;
  home?: string;
  runtime?: RuntimeKind;
  poolSize?: number;
  /** Continue plans a previous host left unfinished (default true). */
  resumePlans?: boolean;
  /**
   * A runtime about to be used (`peragus run`'s): its slow start (the local kernel zygote)
   * begins first, beside the host's own (≈ 0.1–0.15 s of the plan's start).
   */
  warm?: RuntimeKind;
}

export interface Host {
  home: string;
  config: Config;
  log: Logger;
  notebook: NotebookServices;
  /** The kernels clients reach directly (Jupyter's /api/kernels): sessions' and standalone ones. */
  kernels: KernelService;
  containers: ContainerService;
  router: ContainerRouter;
  catalog: Catalog;
  plans: PlanRunner;
  /** Long runs as MCP tasks, shared by every MCP connection of this host. */
  tasks: TaskRegistry;
  ctx: NotebookContext;
  /** Extra host tools registered by later layers (catalog, plans). */
  extraTools: ToolDef[];
  makeMcpServer(): McpServer;
  close(): Promise<void>;
}

export async function createHost(options: HostOptions = {}): Promise<Host> {
  const config = options.config ?? loadConfig();
  const log = options.log ?? createLogger({ level: config.logLevel });
  const home = options.home ?? config.home;
  mkdirSync(home, { recursive: true });
  const containers = new ContainerService(home, options.runtime ?? config.runtime, {
    nodePoolSize: config.nodePoolSize,
    dockerPool: config.dockerPool,
    sharedCache: config.pysdSharedCache,
    ...(config.image !== undefined ? { image: config.image } : {}),
    hostSessions: hostedSessions(log),
    log,
  });
  if (options.warm === 'local') void containers.warm('local');
  // The catalog before any experiment: a locked, empty or corrupt catalog fails the start
  // before any kernel or plan is started, and a zygote warmed beside it is stopped.
  let catalog: Catalog;
  let notebook: NotebookServices;
  try {
    catalog = await Catalog.open({ home });
  } catch (err) {
    await containers.close();
    throw err;
  }
  // The kernels this host serves itself run a client's code: each in a sandbox of its own.
  const hostKernels = sandboxedKernels(containers.localRuntime());
  const sandboxed = 'sandboxed' in hostKernels ? hostKernels.sandboxed : undefined;
  if ('unsandboxed' in hostKernels) {
    log.warn(
      `peragus: notebooks and Jupyter kernels this host serves itself (not in a container) run unsandboxed, as this host's user: ${hostKernels.unsandboxed}`,
    );
  }
  const poolSize = options.poolSize ?? config.poolSize;
  try {
    notebook = await createNotebookServices({
      root: join(home, 'sessions'),
      poolSize,
      log,
      ...(sandboxed ? { kernelSource: sandboxed.start, fileOwner: sandboxed.owner } : {}),
    });
  } catch (err) {
    catalog.close();
    await containers.close();
    throw err;
  }
  // They are forked by the local runtime's zygote: started now, as a warm kernel was.
  if (sandboxed && poolSize > 0 && options.warm !== 'local') containers.warm('local');
  const kernels = new KernelService({
    sessions: notebook.sessions,
    events: notebook.events,
    home,
    ...(sandboxed ? { startKernel: sandboxed.start } : {}),
  });
  if (containers.defaultKind === 'local') {
    // Loud when experiments would run unsandboxed (container_create says isolation: "none" too).
    const warning = isolationWarning(localIsolation());
    if (warning) log.warn(warning);
    const caps = cgroupSupport();
    if ('reason' in caps) {
      log.warn(
        `peragus: local experiments' CPU, memory and pids caps are not enforced (${caps.reason}); ` +
          'run the host as root on cgroup v1, or use PERAGUS_RUNTIME=docker.\n',
      );
    }
  }
  const router = new ContainerRouter((id) => containers.endpoint(id), notebook.events);
  containers.onDestroyed = (id) => router.forget(id);
  const plans = new PlanRunner({ containers, router, catalog }, home, log);
  const ahead = new TranslateAhead(home, log, () => containers.checkZygote());
  const ctx: NotebookContext = {
    role: 'host',
    sessions: notebook.sessions,
    events: notebook.events,
    workDir: join(home, 'sessions'),
  };
  const extraTools: ToolDef[] = [
    ...catalogTools({ router, catalog, containers, sessions: notebook.sessions }),
    ...planTools({ catalog, plans, home, approval: approvalOf(config) }),
  ];
  const tasks = new TaskRegistry();
  const remote = remoteSessions(containers, router);
  const host: Host = {
    home,
    config,
    log,
    notebook,
    kernels,
    containers,
    router,
    catalog,
    plans,
    tasks,
    ctx,
    extraTools,
    makeMcpServer: () =>
      createMcpServer(ctx, {
        tools: [...containerTools(containers, router, home), ...extraTools],
        router: routeTranslatingAhead({
          router,
          ahead,
          readsSharedCache: (id) => containers.kindOf(id) !== 'swarm',
        }),
        tasks,
        remote,
        completions: () => {
          const experimentIds = async (prefix: string) =>
            (await catalog.completeIds('experiment_id', prefix)).values;
          const planIds = async (prefix: string) => (await catalog.completeIds('plan_id', prefix)).values;
          return {
            resources: {
              'experiment://{id}/summary': { id: experimentIds },
              'experiment://{id}/artifacts': { id: experimentIds },
              'experiment://{id}/metrics': { id: experimentIds },
              'plan://{plan_id}': { plan_id: planIds },
            },
          };
        },
        setup: (server, subscriptions) => registerCatalogResources(server, catalog, subscriptions),
      }),
    async close() {
      tasks.close();
      await ahead.close();
      await plans.close();
      await router.close();
      await kernels.close();
      await notebook.close();
      await containers.close();
      catalog.close();
    },
  };
  if (options.resumePlans !== false) {
    try {
      const resumed = await plans.resumeAll();
      for (const id of resumed) log.info(`peragus: resuming plan ${id}`);
    } catch (err) {
      await host.close().catch(() => undefined);
      throw err;
    }
  }
  return host;
}

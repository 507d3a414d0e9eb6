// Sessions of sandboxed local experiments, served by the host itself (runtime/types.ts,
// HostSessionServer). Per experiment: what a node process would run in its sandbox — a session
// manager of its work dir and a one-kernel pool whose kernel the zygote forks into the sandbox —
// with an MCP server per connection, reached in memory. No node process starts, so an experiment
// costs its kernel and this host's work for it. Everything done in the work dir, where the kernel
// writes too, is link-safe (notebook/store.ts, kernel/connection.ts, kernel/channels.ts).
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { Logger } from '../log/index.ts';
import type { NotebookContext } from '../mcp/context.ts';
import { createMcpServer } from '../mcp/server.ts';
import {
  type HostedExperiment,
  type HostSessionServer,
  KERNEL_FILES_RELATIVE_PATH,
} from '../runtime/types.ts';
import { createNotebookServices, type NotebookServices } from './notebook-services.ts';

interface Hosted {
  services: NotebookServices;
  ctx: NotebookContext;
}

export function hostedSessions(log: Logger): HostSessionServer {
  const open = new Map<string, Hosted>();
  return {
    async open(exp: HostedExperiment) {
      const services = await createNotebookServices({
        root: exp.work_dir,
        workDir: exp.work_dir,
        fileOwner: exp.owner,
        // A scratch experiment (a plan's) does not flush its notebook on every change.
        flush: !exp.scratch,
        // One experiment: one kernel started ahead (as a node does), no refill beside it.
        poolSize: 1,
        poolMaxStarts: 1,
        log,
        kernel: {
          idleDir: exp.work_dir,
          kernelEnv: exp.env,
          inSandbox: {
            connection: { dir: KERNEL_FILES_RELATIVE_PATH, owner: exp.owner },
            fork: exp.fork,
            ...(exp.env_from ? { envFrom: exp.env_from } : {}),
            ...(exp.path_inside ? { pathInside: exp.path_inside } : {}),
          },
        },
      });
      open.set(exp.container_id, {
        services,
        ctx: {
          role: 'node',
          sessions: services.sessions,
          events: services.events,
          workDir: exp.work_dir,
          defaultExperimentId: exp.experiment_id,
        },
      });
    },
    async transport(containerId: string): Promise<Transport> {
      const hosted = open.get(containerId);
      if (!hosted) throw new Error(`no sessions are served here for ${containerId}`);
      const [client, server] = InMemoryTransport.createLinkedPair();
      await createMcpServer(hosted.ctx).connect(server);
      return client;
    },
    kernelOutput(containerId: string, tail: number): string {
      const sessions = open.get(containerId)?.services.sessions.list() ?? [];
      const parts = sessions.flatMap((s) => {
        const text = s.kernelOutput.trimEnd();
        return text ? [`--- the kernel of session ${s.id} ---`, text] : [];
      });
      return parts.join('\n').split('\n').slice(-tail).join('\n');
    },
    async close(containerId: string) {
      const hosted = open.get(containerId);
      open.delete(containerId);
      await hosted?.services.close();
    },
  };
}

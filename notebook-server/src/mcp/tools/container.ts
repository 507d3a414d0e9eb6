// container_* tools (host only): provision, inspect and tear down one
// isolated container per experiment.
import { join } from 'node:path';
import { withFileInside } from '../../confine/fs.ts';
import type { ContainerService } from '../../orchestrator/containers.ts';
import type { ContainerRouter } from '../../orchestrator/router.ts';
import {
  ContainerCpInInput,
  ContainerCpOutInput,
  ContainerCreateInput,
  ContainerCreateOutput,
  ContainerDestroyInput,
  ContainerDestroyOutput,
  ContainerExecInput,
  ContainerExecOutput,
  ContainerHealthOutput,
  ContainerIdInput,
  ContainerListInput,
  ContainerListOutput,
  ContainerLogsInput,
  ContainerLogsOutput,
  ContainerStatsOutput,
  CopyOutput,
} from '../../schemas/container-tools.ts';
import { defineTool, type ToolDef, ToolInputError } from '../tool.ts';

export function containerTools(
  containers: ContainerService,
  router: ContainerRouter,
  home: string,
): ToolDef[] {
  return [
    defineTool({
      name: 'container_create',
      description:
        'Provision an isolated container for one experiment (no network, read-only root, caps on CPU/memory/pids). ' +
        'Returns container_id; pass it to notebook_create and the pysd_* tools.',
      input: ContainerCreateInput,
      output: ContainerCreateOutput,
      hints: { readOnly: false, destructive: false, idempotent: false, openWorld: true },
      handler: async (args) => {
        const spec = {
          ...(args.image ? { image: args.image } : {}),
          ...(args.resources ? { resources: args.resources } : {}),
          ...(args.env ? { env: args.env } : {}),
          ...(args.experiment_id ? { experiment_id: args.experiment_id } : {}),
        };
        return containers.create(spec, args.runtime);
      },
    }),
    defineTool({
      name: 'container_exec',
      description: 'Run a command in a container; returns exit_code, stdout, stderr.',
      input: ContainerExecInput,
      output: ContainerExecOutput,
      hints: { readOnly: false, destructive: true, idempotent: false, openWorld: true },
      handler: async (args) =>
        containers.runtimeOf(args.container_id).exec(args.container_id, args.cmd, {
          ...(args.timeout_ms ? { timeoutMs: args.timeout_ms } : {}),
          ...(args.cwd ? { cwd: args.cwd } : {}),
        }),
    }),
    defineTool({
      name: 'container_cp_in',
      description:
        'Copy a file into the container (dest relative to /experiment), from content or a host inbox file.',
      input: ContainerCpInInput,
      output: CopyOutput,
      hints: { readOnly: false, destructive: true, idempotent: true, openWorld: true },
      handler: async (args) => {
        if ((args.src === undefined) === (args.content === undefined)) {
          throw new ToolInputError('container_cp_in needs exactly one of src or content');
        }
        const rt = containers.runtimeOf(args.container_id);
        if (args.src === undefined)
          return rt.cpIn(args.container_id, args.dest, { content: args.content as string });
        // Host files come from PERAGUS_HOME/inbox only, opened without following any link
        // there: an agent must not read the host's files through a link in the inbox.
        const inbox = join(home, 'inbox');
        return withFileInside(inbox, args.src, { what: 'src', where: inbox }, (file) =>
          rt.cpIn(args.container_id, args.dest, { path: file.pinned }),
        );
      },
    }),
    defineTool({
      name: 'container_cp_out',
      description:
        "Copy a file out of the container (src relative to /experiment) into the experiment's host out dir.",
      input: ContainerCpOutInput,
      output: CopyOutput,
      hints: { readOnly: false, destructive: true, idempotent: true, openWorld: true },
      handler: async (args) => {
        if (args.dest !== undefined) {
          throw new ToolInputError('dest is chosen by the host (the experiment out dir); omit it');
        }
        return containers.runtimeOf(args.container_id).cpOut(args.container_id, args.src);
      },
    }),
    defineTool({
      name: 'container_logs',
      description:
        "The container's recent stdout/stderr: its own processes' log (a node role's, where one serves it) and, for an experiment whose sessions this host serves, its kernels' output outside cells (their start, warnings, how one died).",
      input: ContainerLogsInput,
      output: ContainerLogsOutput,
      hints: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
      handler: async (args) =>
        containers.runtimeOf(args.container_id).logs(args.container_id, args.tail ? { tail: args.tail } : {}),
    }),
    defineTool({
      name: 'container_stats',
      description: 'One sample of CPU (percent of one core), memory (bytes) and process count.',
      input: ContainerIdInput,
      output: ContainerStatsOutput,
      hints: { readOnly: true, destructive: false, idempotent: false, openWorld: false },
      handler: async (args) => containers.runtimeOf(args.container_id).stats(args.container_id),
    }),
    defineTool({
      name: 'container_health',
      description: 'Running / exited / OOM-killed, with the reason, and whether its MCP endpoint answers.',
      input: ContainerIdInput,
      output: ContainerHealthOutput,
      hints: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
      handler: async (args) => containers.runtimeOf(args.container_id).health(args.container_id),
    }),
    defineTool({
      name: 'container_list',
      description: 'Containers created by Peragus (optionally of one experiment).',
      input: ContainerListInput,
      output: ContainerListOutput,
      hints: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
      handler: async (args) => ({
        containers: await containers.list(
          args.experiment_id ? { 'peragus.experiment_id': args.experiment_id } : undefined,
          args.runtime,
        ),
      }),
    }),
    defineTool({
      name: 'container_destroy',
      description:
        'Stop and remove a container (idempotent). Its experiment volume stays unless remove_work_dir.',
      input: ContainerDestroyInput,
      output: ContainerDestroyOutput,
      hints: { readOnly: false, destructive: true, idempotent: true, openWorld: false },
      handler: async (args) => {
        const result = await containers.destroy(args.container_id, args.remove_work_dir);
        await router.forget(args.container_id);
        return { container_id: args.container_id, ...result };
      },
    }),
  ];
}

// A Docker experiment whose sessions this host serves (PERAGUS_DOCKER_SESSIONS=host, the
// default): the container runs the kernel zygote alone (`python -m peragus_pysd.zygote
// --container`), imports paid before a pooled container is handed over, and the host asks it for
// the experiment's kernel through its socket in the volume. The kernel binds its ipc sockets in
// the volume too (relative to its cwd), so no node process runs in the container: the host's
// session manager, MCP tools and exports work on the volume's host path, as they do for a local
// sandbox (app/hosted-sessions.ts). The volume is the container's to write: the zygote's socket is
// connected through a descriptor pinned without following a link (confine/socket.ts).
import { closeSync } from 'node:fs';
import { createConnection } from 'node:net';
import { isAbsolute, relative } from 'node:path';
import { openSocketInside } from '../confine/socket.ts';
import type { KernelProcess } from '../kernel/launcher.ts';
import { type MemoryCgroupFiles, memoryCgroupFiles } from '../kernel/oom.ts';
import { launchFromZygote, type ZygoteKernelRequest } from '../kernel/zygote.ts';
import { EXPERIMENT_MOUNT, type HostedExperiment } from './types.ts';

/** The container's kernel zygote socket, relative to the experiment work dir. */
export const ZYGOTE_RELATIVE_PATH = '.peragus/zygote.sock';

/** The container's command (after the image's entrypoint): the zygote of that container alone. */
export const ZYGOTE_COMMAND = [
  'python',
  '-m',
  'peragus_pysd.zygote',
  '--container',
  '--socket',
  `${EXPERIMENT_MOUNT}/${ZYGOTE_RELATIVE_PATH}`,
];

/** The role label of a container whose sessions the host serves (beside `node` and `custom`). */
export const HOSTED_ROLE = 'hosted';

/**
 * The role label of the shared zygote's container (docker-zygote.ts): this host's machinery, not an
 * experiment. No tool lists, reaches or destroys it (docker-inspect.ts refuses it as unknown).
 */
export const ZYGOTE_ROLE = 'zygote';

/**
 * Where a hosted container's kernel comes from: `joined`, forked into it by the runtime's shared
 * zygote (docker-zygote.ts; the container holds `sleep` alone); `zygote`, from the container's own
 * zygote, through its socket in the volume.
 */
export type HostedKind = 'joined' | 'zygote';

/** A joined container's command (after the image's entrypoint): it holds the namespaces, nothing else. */
export const HOLDER_COMMAND = ['sleep', 'infinity'];

/** `path` (this host's, inside `workDir`) as the container sees it; anything outside is refused. */
export function pathInContainer(workDir: string, path: string): string {
  const rel = relative(workDir, path);
  if (rel === '') return EXPERIMENT_MOUNT;
  if (rel.startsWith('..') || isAbsolute(rel)) {
    throw new Error(`${path} is outside the experiment volume ${workDir}: the container cannot reach it`);
  }
  return `${EXPERIMENT_MOUNT}/${rel}`;
}

/**
 * Forks a kernel from the container's zygote (the request's paths are already the container's:
 * HostedExperiment.path_inside); its signals go over the same connection.
 */
export function forkInContainer(
  containerId: string,
  workDir: string,
  request: ZygoteKernelRequest,
): KernelProcess {
  const proc = launchFromZygote(`${workDir}/${ZYGOTE_RELATIVE_PATH}`, request, {
    signalsByLine: true,
    connect: () => {
      const { fd, pinned } = openSocketInside(workDir, ZYGOTE_RELATIVE_PATH, {
        what: "the container's kernel zygote socket",
      });
      const conn = createConnection(pinned);
      let open = true;
      const release = () => {
        if (open) closeSync(fd);
        open = false;
      };
      conn.once('connect', release);
      conn.once('error', release);
      return conn;
    },
  });
  proc.memoryCgroup = containerMemoryCgroup(containerId);
  return proc;
}

/**
 * The container's memory cgroup as this host sees it, under each layout dockerd may use (cgroup v1
 * or v2; the cgroupfs or systemd driver): the first that exists counts the kernel's OOM kills.
 */
export function containerMemoryCgroup(containerId: string): MemoryCgroupFiles[] {
  return [
    memoryCgroupFiles(`/sys/fs/cgroup/memory/docker/${containerId}`, 1),
    memoryCgroupFiles(`/sys/fs/cgroup/memory/system.slice/docker-${containerId}.scope`, 1),
    memoryCgroupFiles(`/sys/fs/cgroup/system.slice/docker-${containerId}.scope`, 2),
    memoryCgroupFiles(`/sys/fs/cgroup/docker/${containerId}`, 2),
  ];
}

export interface HostedContainer {
  containerId: string;
  experimentId: string;
  workDir: string;
  owner: { uid: number; gid: number };
  /** What the container's processes see: its image's environment, then its create's. */
  containerEnv: Record<string, string>;
  /** The kernel's own variables (the session adds its own on top). */
  env: Record<string, string>;
  /** Forks its kernel (default: from the container's own zygote, forkInContainer). */
  fork?: (request: ZygoteKernelRequest) => KernelProcess;
  /** Its spec's `scratch` (HostedExperiment.scratch). */
  scratch?: boolean;
}

export function hostedContainer(c: HostedContainer): HostedExperiment {
  return {
    container_id: c.containerId,
    experiment_id: c.experimentId,
    work_dir: c.workDir,
    env: c.env,
    owner: c.owner,
    env_from: c.containerEnv,
    fork: c.fork ?? ((request) => forkInContainer(c.containerId, c.workDir, request)),
    path_inside: (path) => pathInContainer(c.workDir, path),
    ...(c.scratch ? { scratch: true } : {}),
  };
}

/** `KEY=value` lines (an image's Config.Env) as a record. */
export function envRecord(lines: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines ?? []) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

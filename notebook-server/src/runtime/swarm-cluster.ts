// What the swarm runtime asks a manager about the cluster: whether it is a
// manager at all, its nodes, the tasks of a service, an image's entrypoint,
// and removals that wait for the swarm to let go.
import type Docker from 'dockerode';
import { readSetting } from '../config/index.ts';
import { apiMessage, call, fail, statusOf } from './docker-errors.ts';
import { dockerode } from './packages.ts';
import { ContainerRuntimeError } from './types.ts';

export interface SwarmNode {
  id: string;
  hostname: string;
  /** The address the node advertises to the swarm. */
  addr: string;
  labels: Record<string, string>;
}

/** The fields of a Swarm task this runtime reads. */
export interface TaskRow {
  ID: string;
  ServiceID: string;
  NodeID?: string;
  CreatedAt: string;
  Status: { State: string; Message?: string; Err?: string };
}

const argvOf = (v: string | string[] | undefined | null): string[] =>
  v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function swarmDockerFromEnv(env: NodeJS.ProcessEnv = process.env): Docker {
  const host = readSetting('swarmDockerHost', env);
  const Client = dockerode();
  if (!host) return new Client();
  if (host.startsWith('unix://')) return new Client({ socketPath: host.slice('unix://'.length) });
  const url = new URL(host.replace(/^tcp:/, 'http:'));
  return new Client({ host: url.hostname, port: Number(url.port || 2375) });
}

/** Fails clearly unless the daemon is a swarm manager. */
export async function requireManager(docker: Docker): Promise<void> {
  const info = (await call(docker, () => docker.info())) as {
    Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean };
  };
  const state = info.Swarm?.LocalNodeState ?? 'inactive';
  if (state !== 'active' || info.Swarm?.ControlAvailable !== true) {
    throw new ContainerRuntimeError(
      'daemon_unavailable',
      `the Docker daemon is not a swarm manager (swarm state "${state}"${state === 'active' ? ', a worker' : ''}): point PERAGUS_SWARM_DOCKER_HOST at a manager's API (scripts/swarm-lab.sh up writes one to /run/peragus-swarm-lab/env), or run \`docker swarm init\``,
    );
  }
}

export async function nodes(docker: Docker): Promise<Map<string, SwarmNode>> {
  const rows = (await call(docker, () => docker.listNodes())) as Array<{
    ID: string;
    Description?: { Hostname?: string };
    Status?: { Addr?: string };
    Spec?: { Labels?: Record<string, string> };
  }>;
  return new Map(
    rows.map((n) => [
      n.ID,
      {
        id: n.ID,
        hostname: n.Description?.Hostname ?? '',
        addr: n.Status?.Addr ?? '',
        labels: n.Spec?.Labels ?? {},
      },
    ]),
  );
}

/** The manager resolves the entrypoint from the registry's copy, never from a node's cache. */
export async function imageArgv(
  docker: Docker,
  image: string,
): Promise<{ entrypoint: string[]; cmd: string[] }> {
  try {
    const info = await docker.getImage(image).inspect();
    return { entrypoint: argvOf(info.Config.Entrypoint), cmd: argvOf(info.Config.Cmd) };
  } catch (err) {
    if (statusOf(err) !== 404) fail(docker, err);
  }
  try {
    await pull(docker, image);
    const info = await docker.getImage(image).inspect();
    return { entrypoint: argvOf(info.Config.Entrypoint), cmd: argvOf(info.Config.Cmd) };
  } catch (err) {
    if (err instanceof ContainerRuntimeError) throw err;
    throw new ContainerRuntimeError(
      'image_not_found',
      `image ${image} cannot be pulled by the swarm manager: ${apiMessage(err)} (push it with scripts/swarm-lab.sh push IMAGE)`,
      { cause: err },
    );
  }
}

async function pull(docker: Docker, image: string): Promise<void> {
  const stream = (await docker.pull(image)) as NodeJS.ReadableStream & { destroy(): void };
  try {
    await new Promise<void>((done, reject) => {
      docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : done()));
    });
  } finally {
    stream.destroy();
  }
}

export async function tasks(docker: Docker, serviceId?: string): Promise<TaskRow[]> {
  const opts = serviceId ? { filters: JSON.stringify({ service: [serviceId] }) } : {};
  return (await call(docker, () => docker.listTasks(opts))) as unknown as TaskRow[];
}

/** The newest task of each service. */
export function newestTasks(tasks: TaskRow[]): Map<string, TaskRow> {
  const out = new Map<string, TaskRow>();
  for (const t of tasks) {
    const seen = out.get(t.ServiceID);
    if (!seen || seen.CreatedAt < t.CreatedAt) out.set(t.ServiceID, t);
  }
  return out;
}

export async function removeService(docker: Docker, id: string): Promise<boolean> {
  try {
    await docker.getService(id).remove();
    return true;
  } catch (err) {
    if (statusOf(err) === 404) return false;
    fail(docker, err);
  }
}

/** Removes a network once the swarm has let go of it (tasks shut down) and waits until it is gone; bounded. True when it was there. */
export async function removeNetwork(docker: Docker, id: string, timeoutMs = 30_000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  let removed = false;
  for (;;) {
    try {
      if (removed) await docker.getNetwork(id).inspect();
      else await docker.getNetwork(id).remove();
      // Removed (or still listed while the manager's node lets go): look again.
      removed = true;
      if (Date.now() > until) {
        throw new ContainerRuntimeError(
          'create_failed',
          `network ${id} was removed but is still listed after ${timeoutMs / 1000} s`,
        );
      }
    } catch (err) {
      if (err instanceof ContainerRuntimeError) throw err;
      const status = statusOf(err);
      if (status === 404) return removed;
      if (status === undefined) fail(docker, err);
      // "has active endpoints" while the task is still shutting down
      if (Date.now() > until) {
        throw new ContainerRuntimeError(
          'create_failed',
          `network ${id} could not be removed within ${timeoutMs / 1000} s: ${apiMessage(err)}`,
          { cause: err },
        );
      }
    }
    await sleep(500);
  }
}

// Read-only views of Peragus containers: the ownership check every operation
// starts with, and the Engine API's inspect/stats/logs/list mapped to our types.
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { isContainerRef } from '../ids/index.ts';
import { effectiveLabels } from './docker-claims.ts';
import { call, fail, statusOf } from './docker-errors.ts';
import { HOSTED_ROLE, ZYGOTE_ROLE } from './docker-hosted.ts';
import { Capped, Demuxer, demuxBuffer, pumpExec } from './docker-stream.ts';
import { probeSocket } from './paths.ts';
import {
  type ContainerInfo,
  ContainerRuntimeError,
  CREATED_BY,
  type HealthResult,
  LABELS,
  type LogsOptions,
  type LogsResult,
  type StatsResult,
  withKernelOutput,
} from './types.ts';

export type Inspect = Docker.ContainerInspectInfo;
export interface Owned {
  container: Docker.Container;
  info: Inspect;
}

/** Inspects a container and checks Peragus created it; anything else is "not found". */
export async function own(docker: Docker, id: string): Promise<Owned> {
  if (!isContainerRef(id)) {
    throw new ContainerRuntimeError('not_found', `no container "${String(id)}": not a valid container id`);
  }
  const container = docker.getContainer(id);
  let info: Inspect;
  try {
    info = await container.inspect();
  } catch (err) {
    if (statusOf(err) === 404) {
      throw new ContainerRuntimeError(
        'not_found',
        `no container "${id}" (unknown id, or already destroyed)`,
        {
          cause: err,
        },
      );
    }
    fail(docker, err);
  }
  // The shared zygote's container is privileged host machinery: no client reaches it by any id.
  if (
    info.Config.Labels?.[LABELS.createdBy] !== CREATED_BY ||
    info.Config.Labels?.[LABELS.role] === ZYGOTE_ROLE
  ) {
    throw new ContainerRuntimeError(
      'not_found',
      `no Peragus container "${id}" (that container was not created by Peragus)`,
    );
  }
  // A pooled container is an experiment's only once handed over (docker-claims.ts).
  const labels = effectiveLabels(info.Id, info.Config.Labels ?? {});
  if (labels === null) {
    throw new ContainerRuntimeError(
      'not_found',
      `no container "${id}" (a pooled container not handed over yet)`,
    );
  }
  info.Config.Labels = labels;
  return { container: docker.getContainer(info.Id), info };
}

/** The uid/gid a container runs as (files copied in are given to it). */
export function userOf(info: Inspect): { uid: number; gid: number } {
  const [u, g] = (info.Config.User || '0:0').split(':');
  const uid = Number(u);
  const gid = Number(g ?? u);
  return { uid: Number.isInteger(uid) ? uid : 0, gid: Number.isInteger(gid) ? gid : 0 };
}

function formatBytes(n: number): string {
  return n >= 2 ** 30 ? `${+(n / 2 ** 30).toFixed(2)} GiB` : `${+(n / 2 ** 20).toFixed(1)} MiB`;
}

export async function logsOf(container: Docker.Container, tail: number): Promise<LogsResult> {
  const data = (await container.logs({
    stdout: true,
    stderr: true,
    tail,
    follow: false,
  })) as unknown as Buffer;
  return demuxBuffer(data);
}

/** The container's log; `kernels` adds the output of kernels this host runs for it (by full id). */
export async function logs(
  docker: Docker,
  id: string,
  options: LogsOptions = {},
  kernels?: (fullId: string, tail: number) => string,
): Promise<LogsResult> {
  const { container, info } = await own(docker, id);
  const tail = Math.max(1, Math.min(options.tail ?? 200, 100_000));
  return withKernelOutput(await call(docker, () => logsOf(container, tail)), kernels?.(info.Id, tail) ?? '');
}

export async function stats(docker: Docker, id: string): Promise<StatsResult> {
  const { container } = await own(docker, id);
  const s = (await call(docker, () => container.stats({ stream: false }))) as Docker.ContainerStats;
  const cpuDelta = (s.cpu_stats?.cpu_usage?.total_usage ?? 0) - (s.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const sysDelta = (s.cpu_stats?.system_cpu_usage ?? 0) - (s.precpu_stats?.system_cpu_usage ?? 0);
  const cpus = s.cpu_stats?.online_cpus || s.cpu_stats?.cpu_usage?.percpu_usage?.length || 1;
  const mem = s.memory_stats ?? ({} as Docker.MemoryStats);
  const memStats = (mem.stats ?? {}) as unknown as Record<string, number | undefined>;
  // Page cache that can be dropped is not pressure: subtract it like `docker stats` does.
  const cache = memStats.total_inactive_file ?? memStats.inactive_file ?? 0;
  const usage = Math.max(0, (mem.usage ?? 0) - cache);
  const limit = mem.limit ?? 0;
  const pidsStats = (s.pids_stats ?? {}) as { current?: number; limit?: number };
  return {
    container_id: id,
    cpu_percent: sysDelta > 0 && cpuDelta > 0 ? +((cpuDelta / sysDelta) * cpus * 100).toFixed(2) : 0,
    memory_usage_bytes: usage,
    memory_limit_bytes: limit,
    memory_percent: limit > 0 ? +((usage / limit) * 100).toFixed(2) : 0,
    pids: pidsStats.current ?? 0,
    pids_limit: pidsStats.limit && pidsStats.limit < 2 ** 62 ? pidsStats.limit : null,
    read_at: s.read,
  };
}

/**
 * OOM kills of any process in the container's memory cgroup. Docker only
 * flags OOMKilled when the main process dies, but a kernel child can be the
 * victim while the node role survives, so read the cgroup's own counter.
 */
async function oomKills(container: Docker.Container): Promise<number | null> {
  const script =
    'cat /sys/fs/cgroup/memory.events 2>/dev/null || cat /sys/fs/cgroup/memory/memory.oom_control 2>/dev/null';
  try {
    const exec = await container.exec({
      Cmd: ['sh', '-c', script],
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream = (await exec.start({ hijack: true, stdin: false })) as Readable;
    const out = new Capped(64 * 1024);
    const demux = new Demuxer((s, c) => s === 'stdout' && out.add(c));
    await pumpExec(stream, demux, {
      timeoutMs: 5000,
      onTimeout: (finish) => {
        stream.destroy();
        finish();
      },
      errorEnds: () => true,
    });
    const m = /^oom_kill (\d+)$/m.exec(out.text());
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

export async function health(docker: Docker, id: string): Promise<HealthResult> {
  const { container, info } = await own(docker, id);
  const state = info.State;
  const labels = info.Config.Labels ?? {};
  const running = state.Running === true;
  const oomCount = running ? await oomKills(container) : null;
  const oomKilled = state.OOMKilled === true || (oomCount ?? 0) > 0;
  // A node role's MCP endpoint, or a hosted container's kernel zygote (its host serves the sessions).
  const hosted = labels[LABELS.role] === HOSTED_ROLE;
  // (A joined container has neither: the runtime says whether it serves it.)
  const expectsEndpoint = labels[LABELS.role] === 'node' || (hosted && Boolean(labels[LABELS.endpoint]));
  const endpoint = labels[LABELS.endpoint];
  const reachable =
    expectsEndpoint && endpoint && running ? await probeSocket(endpoint) : expectsEndpoint ? false : null;
  const limit = info.HostConfig.Memory ?? 0;

  let reason: string;
  if (oomKilled) {
    const who = state.OOMKilled ? 'the main process' : `${oomCount} process(es)`;
    reason = `out of memory: the OOM killer ended ${who} at the ${limit ? formatBytes(limit) : 'memory'} limit`;
    if (!running) reason += `; container exited with code ${state.ExitCode}`;
  } else if (running) {
    const endpoint = hosted ? 'its kernel zygote' : 'the MCP endpoint';
    reason = reachable === false ? `running, but ${endpoint} does not accept connections` : 'running';
  } else if (state.Status === 'created') {
    reason = 'created but never started';
  } else {
    reason = `${state.Status} with exit code ${state.ExitCode}${state.Error ? `: ${state.Error}` : ''}`;
  }
  const time = (t: string | undefined) => (t && !t.startsWith('0001-') ? t : null);
  return {
    container_id: info.Id,
    experiment_id: labels[LABELS.experimentId] ?? null,
    running,
    status: state.Status,
    oom_killed: oomKilled,
    oom_kill_count: oomCount,
    exit_code: running ? null : state.ExitCode,
    reason,
    started_at: time(state.StartedAt),
    finished_at: running ? null : time(state.FinishedAt),
    endpoint_reachable: reachable,
  };
}

export async function list(docker: Docker, labels: Record<string, string> = {}): Promise<ContainerInfo[]> {
  // Filtered here, not by the daemon: a handed-over pooled container's
  // experiment labels live in its claim (docker-claims.ts), not on it.
  const filter = [`${LABELS.createdBy}=${CREATED_BY}`];
  const rows = await call(docker, () => docker.listContainers({ all: true, filters: { label: filter } }));
  const out: ContainerInfo[] = [];
  for (const row of rows) {
    const l = effectiveLabels(row.Id, row.Labels ?? {});
    if (l === null || l[LABELS.role] === ZYGOTE_ROLE) continue;
    if (!Object.entries(labels).every(([k, v]) => l[k] === v)) continue;
    out.push({
      container_id: row.Id,
      experiment_id: l[LABELS.experimentId] ?? null,
      name: (row.Names?.[0] ?? '').replace(/^\//, ''),
      image: l[LABELS.image] ?? row.Image,
      status: row.State,
      running: row.State === 'running',
      created_at: new Date(row.Created * 1000).toISOString(),
      labels: l,
      endpoint: l[LABELS.endpoint] ?? null,
      work_dir: l[LABELS.workDir] ?? null,
    });
  }
  return out;
}

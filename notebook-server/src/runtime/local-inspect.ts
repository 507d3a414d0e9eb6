// What a local container's record and its cgroups tell: stats (a 250 ms CPU sample, memory and
// pids against their caps) and health (running, reachable, OOM kills).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { treeUsage } from './local-process.ts';
import { groupsOf, isRunning, type LocalRecord, tailFile } from './local-record.ts';
import type { HealthResult, StatsResult } from './types.ts';

const CLK_TCK = 100;

export async function localStats(rec: LocalRecord): Promise<StatsResult> {
  const groups = groupsOf(rec);
  // CPU seconds used so far: the sandbox's cgroup counts every process in it, exited ones too.
  const cpuSeconds = () => {
    const ns = groups?.usage().cpuNs;
    return ns != null ? ns / 1e9 : treeUsage(rec.pid).ticks / CLK_TCK;
  };
  const a = cpuSeconds();
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, 250));
  const b = cpuSeconds();
  const secs = (Date.now() - t0) / 1000;
  const used = groups?.usage();
  // The process tree (a walk of /proc) only where the cgroups do not say.
  const tree = used?.memory != null && used.pids != null ? undefined : treeUsage(rec.pid);
  const memTotal = Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) * 1024;
  const memory = used?.memory ?? tree?.rss ?? 0;
  const limit = Math.min(used?.memoryLimit ?? memTotal, memTotal || Number.POSITIVE_INFINITY);
  return {
    container_id: rec.container_id,
    cpu_percent: Math.max(0, ((b - a) / secs) * 100),
    memory_usage_bytes: memory,
    memory_limit_bytes: limit,
    memory_percent: limit ? (memory / limit) * 100 : 0,
    pids: used?.pids ?? tree?.pids ?? 0,
    pids_limit: used?.pidsLimit ?? null,
    read_at: new Date().toISOString(),
  };
}

/** `reachable(running)`: whether its sessions answer (a socket probe, or this host serving them). */
export async function localHealth(
  rec: LocalRecord,
  reachable: (hosted: boolean) => Promise<boolean>,
): Promise<HealthResult> {
  const running = isRunning(rec);
  const hosted = rec.host_pid !== undefined;
  const answers = running ? await reachable(hosted) : false;
  const oomKills = groupsOf(rec)?.oomKills() ?? null;
  return {
    container_id: rec.container_id,
    experiment_id: rec.experiment_id,
    running,
    status: running ? 'running' : 'exited',
    oom_killed: (oomKills ?? 0) > 0,
    oom_kill_count: oomKills,
    exit_code: null,
    reason: running
      ? answers
        ? 'running'
        : hosted
          ? `running, but its sessions are served by another host process (${rec.host_pid})`
          : 'running, but the MCP endpoint does not accept connections'
      : `the node process ${rec.pid} has exited; stderr: ${tailFile(join(rec.log_dir, 'stderr.log'), 5)}`,
    started_at: rec.created_at,
    finished_at: null,
    endpoint_reachable: answers,
  };
}

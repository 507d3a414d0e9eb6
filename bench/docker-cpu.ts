// CPU accounting for Docker plans in the bench: our experiment containers' cgroups, the dockerd
// and containerd serving this host's socket, and the containers' shims (what `docker` costs
// beside the containers themselves).
import { readdirSync, readFileSync } from 'node:fs';
import Docker from 'dockerode';
import { LABELS } from '../notebook-server/src/runtime/types.ts';

/** CPU of our experiment containers (cgroup v1 cpuacct or v2 cpu.stat), polled while a plan runs. */
export class ContainerCpu {
  readonly #docker = new Docker();
  readonly #last = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #ids = new Set<string>();
  readonly #shims = new Map<string, number>();
  #daemons0 = 0;

  constructor(private readonly home: string) {}

  #usage(id: string): number | undefined {
    for (const p of [
      `/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`,
      `/sys/fs/cgroup/system.slice/docker-${id}.scope/cpu.stat`,
      `/sys/fs/cgroup/docker/${id}/cpu.stat`,
    ]) {
      try {
        const text = readFileSync(p, 'utf8');
        if (p.endsWith('cpuacct.usage')) return Number(text) / 1e9;
        const m = /usage_usec (\d+)/.exec(text);
        if (m) return Number(m[1]) / 1e6;
      } catch {
        // not this layout, or gone
      }
    }
    return undefined;
  }

  start(): void {
    this.#daemons0 = daemonCpu();
    let tick = 0;
    this.#timer = setInterval(async () => {
      if (tick++ % 3 === 0) {
        const list = await this.#docker
          .listContainers({ all: true, filters: { label: [LABELS.workDir] } })
          .catch(() => []);
        for (const c of list)
          if (String(c.Labels?.[LABELS.workDir]).startsWith(this.home)) this.#ids.add(c.Id);
      }
      for (const id of this.#ids) {
        const u = this.#usage(id);
        if (u !== undefined) this.#last.set(id, u);
      }
      for (const [id, u] of shimCpu(this.#ids)) this.#shims.set(id, u);
    }, 100);
  }

  stop(): { containers: number; daemons: number; count: number } {
    clearInterval(this.#timer);
    let sum = 0;
    for (const v of this.#last.values()) sum += v;
    let shims = 0;
    for (const v of this.#shims.values()) shims += v;
    return { containers: sum, daemons: daemonCpu() - this.#daemons0 + shims, count: this.#ids.size };
  }
}

interface ProcStat {
  name: string;
  ppid: number;
  /** utime + stime, and with `reaped` the children it waited for, in clock ticks. */
  self: number;
  reaped: number;
}

function procStat(pid: string): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      name,
      ppid: Number(f[1]),
      self: Number(f[11]) + Number(f[12]),
      reaped: Number(f[13]) + Number(f[14]),
    };
  } catch {
    return undefined;
  }
}

/**
 * CPU-seconds so far of the dockerd serving this host's Docker socket and its
 * containerd (their share of every container operation). Other daemons on the
 * machine (a Swarm lab's dockerd/containerd, started with --exec-root) are not ours.
 */
export function daemonCpu(): number {
  let ticks = 0;
  const procs = new Map<number, ProcStat>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const st = procStat(pid);
    if (st && (st.name === 'dockerd' || st.name === 'containerd')) procs.set(Number(pid), st);
  }
  const cmdline = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      return '';
    }
  };
  const mainDockerd = [...procs].find(
    ([pid, st]) => st.name === 'dockerd' && !cmdline(pid).includes('--exec-root'),
  );
  for (const [pid, st] of procs) {
    const main = st.name === 'dockerd' ? pid === mainDockerd?.[0] : st.ppid === mainDockerd?.[0];
    if (main) ticks += st.self;
  }
  return ticks / 100;
}

/** CPU-seconds of the containerd shims of these containers (with the runc runs they reaped). */
export function shimCpu(ids: Iterable<string>): Map<string, number> {
  const want = new Set(ids);
  const out = new Map<string, number>();
  if (want.size === 0) return out;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const st = procStat(pid);
    if (!st?.name.startsWith('containerd-shim')) continue;
    let id = '';
    try {
      id = /-id\0([0-9a-f]{64})/.exec(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))?.[1] ?? '';
    } catch {
      continue;
    }
    if (want.has(id)) out.set(id, (st.self + st.reaped) / 100);
  }
  return out;
}

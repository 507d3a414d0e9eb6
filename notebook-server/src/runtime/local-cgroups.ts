// CPU, memory and pids caps for the local runtime's sandboxes, as Docker gives its containers: a
// cgroup per sandbox in each of the cgroup v1 hierarchies that caps one of them (memory, cpu,
// pids; cpuacct for the CPU it used), nested under this host's own cgroups and named
// `peragus-<sandbox id>` (none is left when the last sandbox goes: the cgroup a host runs in can
// still be removed by whoever made it, as the bench's CPU meter does). The sandbox's first
// process joins them before bubblewrap starts (a shell in front of bwrap, `joinArgv`), so
// everything it starts counts: the node, its cold kernels, container_exec's commands; kernels
// the zygote forks into the sandbox join the cgroups of the sandbox's first process themselves
// (peragus_pysd/nsjoin.py join_cgroups), before any experiment code runs.
//
// It needs a root host and cgroup v1 hierarchies (what Docker 20.10 runs on here). Elsewhere
// `cgroupSupport` says why not, and the runtime reports the caps as not enforced.
import { mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { type MemoryCgroupFiles, memoryCgroupFiles, oomKillCount } from '../kernel/oom.ts';
import { isAlive } from '../proc/process.ts';
import {
  type CapLimits,
  ContainerRuntimeError,
  capsOf,
  type EnforcedCaps,
  enforcedCaps,
  type Resources,
} from './types.ts';

/** The hierarchies a sandbox's cgroups are made in; cpuacct only counts (it caps nothing). */
const CONTROLLERS = ['memory', 'cpu', 'pids', 'cpuacct'] as const;
type Controller = (typeof CONTROLLERS)[number];
const REQUIRED: Controller[] = ['memory', 'cpu', 'pids'];

/** Where this host may make sandbox cgroups (its own cgroup in each hierarchy), or why it cannot. */
export type CgroupSupport = { bases: Partial<Record<Controller, string>> } | { reason: string };

const ROOT = '/sys/fs/cgroup';
const CFS_PERIOD_US = 100_000;
/** An empty sandbox cgroup older than this, with no sandbox of this host's, was left by a host that died. */
const STALE_MS = 60_000;

let probed: CgroupSupport | undefined;

/**
 * Whether sandbox cgroups can be made here, probed once: a root host whose memory, cpu and pids
 * controllers are cgroup v1 hierarchies it can make cgroups in (beside it, in its own cgroup).
 */
export function cgroupSupport(): CgroupSupport {
  probed ??= probe();
  return probed;
}

function probe(): CgroupSupport {
  if (process.getuid?.() !== 0) return { reason: 'the host is not root, and only root can make cgroups' };
  let own: string;
  try {
    own = readFileSync('/proc/self/cgroup', 'utf8');
  } catch (e) {
    return { reason: `cannot read /proc/self/cgroup: ${(e as Error).message}` };
  }
  const bases: Partial<Record<Controller, string>> = {};
  for (const line of own.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    const [controllers, path] = [m?.[1], m?.[2]];
    if (!controllers || path === undefined) continue;
    for (const c of controllers.split(',')) {
      if ((CONTROLLERS as readonly string[]).includes(c))
        bases[c as Controller] = join(ROOT, controllers, path);
    }
  }
  const missing = REQUIRED.filter((c) => !bases[c]);
  if (missing.length > 0) {
    return {
      reason: `no cgroup v1 hierarchy for ${missing.join(', ')} (cgroup v2 is not supported yet)`,
    };
  }
  // A cgroup made and removed again in each: what a sandbox will need.
  const probeName = `${PREFIX}probe-${process.pid}`;
  for (const [c, base] of Object.entries(bases)) {
    const dir = join(base, probeName);
    try {
      mkdirSync(dir);
      rmdirSync(dir);
    } catch (e) {
      if (REQUIRED.includes(c as Controller))
        return { reason: `cannot make a cgroup in ${base}: ${(e as Error).message}` };
      delete bases[c as Controller];
    }
  }
  return { bases };
}

/** A sandbox id (`local-<hex>`, `kernel-<hex>`); its cgroup is named PREFIX and that id. */
const ID_PATTERN = '[a-z]+-[0-9a-f]{8,32}';
const ID = new RegExp(`^${ID_PATTERN}$`);
/** Nothing else of the host's cgroup is touched. */
const PREFIX = 'peragus-';
const NAME = new RegExp(`^${PREFIX}${ID_PATTERN}$`);

/** One sandbox's cgroups: made with its caps, joined by its first process, removed with it. */
export class SandboxCgroups {
  /** The folder of each hierarchy's cgroup (kept in the container record, so any host finds them). */
  readonly dirs: Partial<Record<Controller, string>>;

  constructor(dirs: Partial<Record<Controller, string>>) {
    this.dirs = dirs;
  }

  /** A sandbox's cgroups as its record names them (only sandbox cgroups under /sys/fs/cgroup). */
  static fromRecord(dirs: Partial<Record<Controller, string>>): SandboxCgroups | undefined {
    const ok = Object.values(dirs).every(
      (d) =>
        typeof d === 'string' && d.startsWith(`${ROOT}/`) && !d.includes('/../') && NAME.test(basename(d)),
    );
    return ok ? new SandboxCgroups(dirs) : undefined;
  }

  /** Makes the cgroups of sandbox `id` (an id this host made) with `caps`. Throws when any step fails. */
  static make(support: { bases: Partial<Record<Controller, string>> }, id: string, caps: CapLimits) {
    if (!ID.test(id)) throw new Error(`"${id}" is not a sandbox id`);
    const dirs: Partial<Record<Controller, string>> = {};
    for (const [c, base] of Object.entries(support.bases))
      dirs[c as Controller] = join(base, `${PREFIX}${id}`);
    const groups = new SandboxCgroups(dirs);
    try {
      for (const dir of Object.values(dirs)) mkdirSync(dir);
      const memory = String(Math.floor(caps.memory));
      groups.#write('memory', 'memory.limit_in_bytes', memory);
      // No swap beyond the cap (Docker's MemorySwap = Memory), where swap is accounted.
      groups.#write('memory', 'memory.memsw.limit_in_bytes', memory, true);
      groups.#write('cpu', 'cpu.cfs_period_us', String(CFS_PERIOD_US));
      groups.#write('cpu', 'cpu.cfs_quota_us', String(Math.max(1_000, Math.round(caps.cpu * CFS_PERIOD_US))));
      groups.#write('pids', 'pids.max', String(caps.pids));
    } catch (e) {
      groups.removeEmpty();
      throw new Error(`cannot cap the sandbox's resources: ${(e as Error).message}`);
    }
    return groups;
  }

  #write(c: Controller, file: string, value: string, optional = false): void {
    const dir = this.dirs[c];
    if (!dir) return;
    try {
      writeFileSync(join(dir, file), value);
    } catch (e) {
      if (!optional || (e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }

  #read(c: Controller, file: string): number | null {
    const dir = this.dirs[c];
    if (!dir) return null;
    try {
      const n = Number(readFileSync(join(dir, file), 'utf8').trim());
      return Number.isFinite(n) ? n : null;
    } catch {
      return null;
    }
  }

  /** The `cgroup.procs` file of each (a process writing its pid there joins). */
  get procsFiles(): string[] {
    return Object.values(this.dirs).map((d) => join(d, 'cgroup.procs'));
  }

  /**
   * `argv` behind a shell that moves itself into these cgroups and then execs it (same pid), so
   * bubblewrap and all it starts are capped from their first instruction. A failed join exits 125
   * and runs nothing.
   */
  joinArgv(argv: string[]): string[] {
    const script = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"';
    return ['/bin/sh', '-c', script, 'peragus-cgroup-join', ...this.procsFiles, '--', ...argv];
  }

  /** Where the kernel's client reads OOM kills and the cap to name (kernel/oom.ts). */
  get memoryFiles(): MemoryCgroupFiles[] {
    return this.dirs.memory ? [memoryCgroupFiles(this.dirs.memory, 1)] : [];
  }

  /** What the sandbox uses now against its caps. */
  usage(): {
    memory: number | null;
    memoryLimit: number | null;
    pids: number | null;
    pidsLimit: number | null;
    cpuNs: number | null;
  } {
    return {
      memory: this.#read('memory', 'memory.usage_in_bytes'),
      memoryLimit: this.#read('memory', 'memory.limit_in_bytes'),
      pids: this.#read('pids', 'pids.current'),
      pidsLimit: this.#read('pids', 'pids.max'),
      cpuNs: this.#read('cpuacct', 'cpuacct.usage'),
    };
  }

  /** Processes the out-of-memory killer ended in the sandbox so far (null when unknown). */
  oomKills(): number | null {
    return oomKillCount(this.memoryFiles);
  }

  /** The processes still in the sandbox (by its pids cgroup). */
  members(): number[] {
    const dir = this.dirs.pids ?? this.dirs.memory;
    if (!dir) return [];
    try {
      return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }

  /**
   * Ends every process still in the sandbox (SIGKILL: the sandbox is already being torn down)
   * and removes its cgroups. Resolves when they are gone or after `timeoutMs`.
   */
  async remove(timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = this.members().filter(isAlive);
      if (left.length === 0) break;
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // ended meanwhile
        }
      }
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    this.removeEmpty();
  }

  /** Removes the cgroups that are empty now (rmdir refuses one with a process in it). */
  removeEmpty(): void {
    for (const dir of Object.values(this.dirs)) {
      try {
        rmdirSync(dir);
      } catch {
        // still busy, or already gone
      }
    }
  }
}

/**
 * Removes sandbox cgroups left behind by a host that died: empty ones older than a minute (a
 * cgroup with a process in it, or one just made for a sandbox starting now, is kept).
 */
export function removeStaleCgroups(support: CgroupSupport): void {
  if (!('bases' in support)) return;
  for (const base of Object.values(support.bases)) {
    let names: string[];
    try {
      names = readdirSync(base);
    } catch {
      continue;
    }
    for (const name of names) {
      if (!NAME.test(name)) continue;
      const dir = join(base, name);
      try {
        if (Date.now() - statSync(dir).mtimeMs < STALE_MS) continue;
        if (readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim() !== '') continue;
        rmdirSync(dir);
      } catch {
        // busy or gone
      }
    }
  }
}

/** A runtime's caps: its defaults, and the cgroups each sandbox gets where they can be made. */
export class LocalCaps {
  readonly #defaults: CapLimits;
  #support: CgroupSupport | undefined;

  /** `support`: where cgroups are made (default: probed at first use; `{ reason }` turns them off). */
  constructor(
    defaults: { cpu?: number; memory?: number | string; pids?: number } = {},
    support?: CgroupSupport,
  ) {
    this.#defaults = capsOf(defaults);
    this.#support = support;
  }

  /** Probed once, when the first sandbox is made (and stale cgroups removed then). */
  get support(): CgroupSupport {
    if (!this.#support) {
      this.#support = cgroupSupport();
      removeStaleCgroups(this.#support);
    }
    return this.#support;
  }

  /** Sandbox `id`'s caps (`resources`, else the defaults), and its cgroups when they can be made. */
  cap(id: string, resources: Resources | undefined): { caps: EnforcedCaps; groups?: SandboxCgroups } {
    const limits = capsOf(resources, this.#defaults);
    const caps = enforcedCaps(limits);
    const support = this.support;
    if (!('bases' in support)) return { caps: { ...caps, enforced: false, reason: support.reason } };
    try {
      return { caps, groups: SandboxCgroups.make(support, id, limits) };
    } catch (e) {
      throw new ContainerRuntimeError('create_failed', (e as Error).message, {
        fix: 'check that the host may write its cgroups under /sys/fs/cgroup',
      });
    }
  }
}

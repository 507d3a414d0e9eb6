// Telling an out-of-memory kill from any other SIGKILL: the memory cgroup we
// run in (a container's, under its memory cap) counts OOM kills. A kernel
// killed by SIGKILL while that count went up was killed by the OOM killer,
// and the error names the cap instead of a bare signal.
import { readFileSync } from 'node:fs';
import { readSetting } from '../config/index.ts';

/** Where a memory cgroup counts OOM kills and keeps its cap (v2 or v1 file names). */
export interface MemoryCgroupFiles {
  events: string;
  limit: string;
}

/** A memory cgroup's files, by its directory: cgroup v2 (memory.events) or v1 (memory.oom_control). */
export function memoryCgroupFiles(dir: string, version: 1 | 2): MemoryCgroupFiles {
  return version === 2
    ? { events: `${dir}/memory.events`, limit: `${dir}/memory.max` }
    : { events: `${dir}/memory.oom_control`, limit: `${dir}/memory.limit_in_bytes` };
}

/**
 * The cgroup this process runs in (a container's, when the kernel runs beside its node role), or
 * the one the local runtime named (a sandbox's is not the root its cgroup namespace shows).
 */
function own(): MemoryCgroupFiles[] {
  const named = readSetting('memoryCgroup');
  if (named) return [memoryCgroupFiles(named, 1)];
  return [memoryCgroupFiles('/sys/fs/cgroup', 2), memoryCgroupFiles('/sys/fs/cgroup/memory', 1)];
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** OOM kills counted in our memory cgroup so far (null when no cgroup says). */
export function oomKillCount(cgroup: MemoryCgroupFiles[] = own()): number | null {
  for (const files of cgroup) {
    const m = /^oom_kill (\d+)$/m.exec(read(files.events) ?? '');
    if (m) return Number(m[1]);
  }
  return null;
}

/** Our memory cgroup's cap in bytes (null when there is none). */
export function memoryCap(cgroup: MemoryCgroupFiles[] = own()): number | null {
  for (const files of cgroup) {
    const text = read(files.limit)?.trim();
    if (!text || text === 'max') continue;
    const n = Number(text);
    // v1 reports "no limit" as a huge page-rounded number.
    if (Number.isFinite(n) && n > 0 && n < 2 ** 60) return n;
  }
  return null;
}

function mib(bytes: number): string {
  return `${Math.round(bytes / (1024 * 1024))} MiB`;
}

/**
 * The reason text for a kernel killed by SIGKILL, when the OOM count grew
 * since `countBefore`: names the cap and the fix. Undefined otherwise. A kernel
 * under a bubblewrap of its own is seen through bubblewrap, which exits 128 + 9.
 */
export function oomReason(
  exit: { code: number | null; signal: NodeJS.Signals | null },
  countBefore: number | null,
  cgroup: MemoryCgroupFiles[] = own(),
): string | undefined {
  const killed = exit.signal === 'SIGKILL' || (exit.signal === null && exit.code === 128 + 9);
  if (!killed || countBefore === null) return undefined;
  const now = oomKillCount(cgroup);
  if (now === null || now <= countBefore) return undefined;
  const cap = memoryCap(cgroup);
  const limit = cap === null ? 'the memory cap' : `the memory cap of ${mib(cap)}`;
  return `killed by the out-of-memory killer: the experiment reached ${limit}; raise resources.memory in container_create (or the plan), or use less memory (fewer samples, a shorter return period)`;
}

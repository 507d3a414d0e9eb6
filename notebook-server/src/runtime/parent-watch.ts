// A process that must not outlive its parent (a local experiment's node
// server, whose host may be kill -9'd) polls for a parent change: when the
// parent dies the process is re-parented (to init or a subreaper), which is
// what PR_SET_PDEATHSIG reports in C. Not armed when the parent is already
// init (pid 1) or absent (pid 0), e.g. as a container's main process.
//
// The spawner passes its pid (PERAGUS_HOST_PID) and pid namespace
// (PERAGUS_HOST_PIDNS) down. That closes the race of a parent that dies
// before this process gets to look: if the parent is already someone else,
// the callback runs at once. In another pid namespace (a sandbox such as
// bubblewrap) pids cannot be compared, so the watch is left to the sandbox
// (bwrap --die-with-parent).
import { readlinkSync } from 'node:fs';
import { readSetting } from '../config/index.ts';

function pidNamespace(): string | null {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return null;
  }
}

/** What a spawner puts in a child's environment for onParentDeath. */
export function parentWatchEnv(): Record<string, string> {
  const ns = pidNamespace();
  return { PERAGUS_HOST_PID: String(process.pid), ...(ns ? { PERAGUS_HOST_PIDNS: ns } : {}) };
}

/** Which host a child watches: PERAGUS_HOST_PID / PERAGUS_HOST_PIDNS as the child's config read them. */
export interface ParentWatch {
  hostPid: number;
  hostPidns: string | undefined;
}

export function onParentDeath(
  callback: () => void,
  watch: ParentWatch = { hostPid: readSetting('hostPid'), hostPidns: readSetting('hostPidns') },
  intervalMs = 500,
): () => void {
  const expected = watch.hostPid;
  const hostNs = watch.hostPidns;
  if (expected > 1 && hostNs && hostNs !== pidNamespace()) return () => undefined;
  const parent = expected > 1 ? expected : process.ppid;
  if (parent <= 1) return () => undefined;
  if (process.ppid !== parent) {
    setImmediate(callback);
    return () => undefined;
  }
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      callback();
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

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
// bubblewrap) pids cannot be compared: there the spawner also holds a
// lifeline, a pipe on the child's stdin whose end the kernel closes when the
// spawner dies, however it dies and across namespaces (bwrap's
// --die-with-parent alone misses a host killed before bwrap arms it).
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

/** Which host a child watches: PERAGUS_HOST_PID / PERAGUS_HOST_PIDNS / PERAGUS_HOST_LIFELINE as the child's config read them. */
export interface ParentWatch {
  hostPid: number;
  hostPidns: string | undefined;
  /** Standard input is the host's lifeline: its end means the host is gone. */
  hostLifeline?: boolean;
}

/** What a spawner puts in the environment of a child whose stdin is its lifeline pipe. */
export const LIFELINE_ENV = { PERAGUS_HOST_LIFELINE: 'stdin' } as const;

/** Runs the callback once when standard input ends (the spawner holding its other end is gone). */
function onLifelineEnd(callback: () => void): () => void {
  let fired = false;
  const fire = () => {
    if (fired) return;
    fired = true;
    callback();
  };
  const stdin = process.stdin;
  stdin.on('end', fire);
  stdin.on('close', fire);
  stdin.on('error', fire);
  stdin.on('data', () => undefined); // nothing is ever sent; reading is what sees the end
  // The pipe never keeps the process alive by itself.
  (stdin as unknown as { unref?: () => void }).unref?.();
  return () => {
    fired = true;
  };
}

export function onParentDeath(
  callback: () => void,
  watch: ParentWatch = {
    hostPid: readSetting('hostPid'),
    hostPidns: readSetting('hostPidns'),
    hostLifeline: readSetting('hostLifeline'),
  },
  intervalMs = 500,
): () => void {
  const expected = watch.hostPid;
  const hostNs = watch.hostPidns;
  if (watch.hostLifeline) return onLifelineEnd(callback);
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

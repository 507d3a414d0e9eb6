// Process liveness and group signals, defined once (the local runtime, the
// kernel zygote, stale kernel files, the host address).
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Signal 0 checks a pid without touching it; EPERM means it exists but is another user's: alive. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses):
 * index 0 is the state, 1 the parent pid, 11–12 user and system ticks, 19 the start, 21 the RSS in
 * pages. Undefined when there is no such process.
 */
export function statFields(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * When a process started (clock ticks after boot, field 22 of /proc/<pid>/stat): with its pid, which
 * process it is. Undefined when there is none.
 */
export function processStart(pid: number): number | undefined {
  const start = Number(statFields(pid)?.[19]);
  return Number.isFinite(start) ? start : undefined;
}

/** Whether a child this process spawned has not exited yet (after that, its pid may be another's). */
export function stillRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/**
 * Whether `pid` is still the process recorded with it: a pid recorded long ago may name another
 * process by now (pids wrap around), which must never be signalled in its place. Without a
 * recorded start, only whether a process has that pid.
 */
export function isSameProcess(pid: number, start: number | undefined): boolean {
  return start === undefined ? isAlive(pid) : processStart(pid) === start;
}

/** Sends `sig` to the process group led by `pid`, or to `pid` alone when it leads none; quiet when gone. */
export function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // gone
    }
  }
}

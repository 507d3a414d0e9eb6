// Process liveness and group signals, defined once (the local runtime, the
// kernel zygote, stale kernel files, the host address).

/** Signal 0 checks a pid without touching it; EPERM means it exists but is another user's: alive. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
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

// Process liveness, defined once: signal 0 checks a pid without touching it.
// EPERM means the process exists but belongs to another user: alive.
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// A process that must not outlive its parent (a local experiment's node
// server, whose host may be kill -9'd) polls for a parent change: when the
// parent dies the process is re-parented (to init or a subreaper), which is
// what PR_SET_PDEATHSIG reports in C. Not armed when the parent is already
// init (pid 1) or absent (pid 0), e.g. as a container's main process.
export function onParentDeath(callback: () => void, intervalMs = 500): () => void {
  const parent = process.ppid;
  if (parent <= 1) return () => undefined;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      callback();
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

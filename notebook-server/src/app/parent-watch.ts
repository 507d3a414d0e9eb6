// A process that must not outlive its parent (a local experiment's node
// server, whose host may be kill -9'd) polls for a parent change: when the
// parent dies the process is re-parented (to init or a subreaper), which is
// what PR_SET_PDEATHSIG reports in C. Not armed when the parent is already
// init (pid 1) or absent (pid 0), e.g. as a container's main process.
//
// `expectedParent` (the pid the spawner passed down) closes the race of a
// parent that dies before this process gets to look: if the parent is already
// someone else, the callback runs at once.
export function onParentDeath(
  callback: () => void,
  expectedParent = Number(process.env.PERAGUS_HOST_PID ?? 0),
  intervalMs = 500,
): () => void {
  const parent = expectedParent > 1 ? expectedParent : process.ppid;
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

// Process helpers for the local runtime: run a command with a timeout and
// capped output, read a process tree's CPU and memory from /proc, and stop a
// process group (SIGTERM, then SIGKILL).
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { isAlive, signalGroup, statFields, stillRunning } from '../proc/process.ts';
import type { ExecResult } from './types.ts';

/**
 * Kills the whole process group (kernels included); SIGKILL after graceMs. `alive`: whether `pid`
 * is still the process meant (default: any process with that pid).
 */
export async function stopGroup(pid: number, graceMs = 5000, alive = () => isAlive(pid)): Promise<void> {
  // Its group is still ours when no process has the pid: Linux reuses no pid its group still holds.
  const signal = (sig: NodeJS.Signals) => {
    if (alive() || !isAlive(pid)) signalGroup(pid, sig);
  };
  if (!alive()) return;
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  // Most processes are gone within milliseconds of the signal: look soon, then less often.
  let wait = 2;
  const pause = () => {
    wait = Math.min(wait * 2, 50);
    return new Promise((r) => setTimeout(r, wait));
  };
  while (alive() && Date.now() < deadline) await pause();
  signal('SIGKILL');
  wait = 2;
  while (alive() && Date.now() < deadline + 2000) await pause();
}

export function runCommand(
  cmd: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number; maxOutputBytes: number },
): Promise<ExecResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const [file, ...args] = cmd as [string, ...string[]];
    const child = spawn(file, args, { cwd: options.cwd, env: options.env, detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let truncated = false;
    let timedOut = false;
    let spawnError: Error | undefined;
    const take = (chunks: Buffer[], used: number, chunk: Buffer): number => {
      const room = options.maxOutputBytes - used;
      if (room <= 0) {
        truncated = true;
        return used;
      }
      if (chunk.length > room) truncated = true;
      chunks.push(chunk.subarray(0, room));
      return used + Math.min(room, chunk.length);
    };
    child.stdout.on('data', (c: Buffer) => {
      outBytes = take(out, outBytes, c);
    });
    child.stderr.on('data', (c: Buffer) => {
      errBytes = take(err, errBytes, c);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid) void stopGroup(child.pid, 500, () => stillRunning(child));
    }, options.timeoutMs);
    child.once('error', (e) => {
      spawnError = e;
    });
    child.once('close', (code, sig) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8');
      let exit = code ?? (sig ? 128 : 1);
      let message = stderr;
      if (spawnError) {
        // Match what a shell reports: 127 for a missing command, 126 for one that cannot run.
        exit = (spawnError as NodeJS.ErrnoException).code === 'ENOENT' ? 127 : 126;
        message = `${stderr}exec failed: ${file}: ${spawnError.message}\n`;
      }
      if (timedOut) exit = 124;
      resolve({
        exit_code: exit,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: message,
        timed_out: timedOut,
        truncated,
        duration_ms: Date.now() - started,
      });
    });
  });
}

/** Every live process's children, by parent pid, from /proc. */
function childrenByParent(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(entry);
    if (!fields) continue; // exited meanwhile
    const ppid = Number(fields[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  return children;
}

/** Pids of the live processes whose parent is `pid`. */
export function childProcesses(pid: number): number[] {
  return childrenByParent().get(pid) ?? [];
}

/** Pids of the tree under `root` (root included), from /proc. */
export function processTree(root: number): number[] {
  const children = childrenByParent();
  const tree: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop() as number;
    tree.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/**
 * Pids of the tree under `root` (root included) from each thread's children list: a few reads
 * for a small tree, where processTree reads every process's stat (≈ 1.8 CPU-ms at 70 processes,
 * too much to poll). Falls back to processTree where the kernel keeps no children lists.
 */
export function descendants(root: number): number[] {
  const tree: number[] = [];
  const stack = [root];
  try {
    while (stack.length > 0) {
      const pid = stack.pop() as number;
      tree.push(pid);
      let tasks: string[];
      try {
        tasks = readdirSync(`/proc/${pid}/task`);
      } catch {
        continue; // exited meanwhile
      }
      for (const tid of tasks) {
        const list = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
        if (list) stack.push(...list.split(' ').map(Number));
      }
    }
  } catch {
    return processTree(root);
  }
  return tree;
}

/** The pid namespace of `pid` (its /proc link text), or undefined when it cannot be read. */
function pidNamespace(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

/**
 * The tree under `root` plus every process in the pid namespace of root's children
 * (a sandbox's kernels forked by the kernel zygote are not root's descendants).
 */
export function sandboxProcesses(root: number): number[] {
  const tree = processTree(root);
  const own = pidNamespace(root);
  const inner = new Set(tree.map(pidNamespace).filter((ns) => ns !== undefined && ns !== own));
  if (inner.size === 0) return tree;
  const all = new Set(tree);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const ns = pidNamespace(Number(entry));
    if (ns && inner.has(ns)) all.add(Number(entry));
  }
  return [...all];
}

/** Summed RSS (bytes) and CPU ticks of a process tree (and of the sandbox it made). */
export function treeUsage(root: number): { rss: number; ticks: number; pids: number } {
  let rss = 0;
  let ticks = 0;
  const pids = sandboxProcesses(root).filter(isAlive);
  for (const pid of pids) {
    const fields = statFields(pid);
    if (!fields) continue; // exited meanwhile
    ticks += Number(fields[11]) + Number(fields[12]);
    rss += Number(fields[21]) * 4096;
  }
  return { rss, ticks, pids: pids.length };
}

/**
 * Resolves once a process under `root` runs `exe` (by its real path): for a sandbox, the moment
 * bubblewrap has made every mount and exec'd the payload, so whatever joins it now sees the
 * finished sandbox. Rejects when `root` ends first or after timeoutMs.
 */
export async function waitForExec(root: number, exe: string, timeoutMs: number): Promise<void> {
  const target = realpathSync(exe);
  const end = Date.now() + timeoutMs;
  for (;;) {
    for (const pid of descendants(root)) {
      try {
        if (readlinkSync(`/proc/${pid}/exe`) === target) return;
      } catch {
        // exited, or not yet readable
      }
    }
    if (!isAlive(root)) throw new Error(`process ${root} ended before it ran ${exe}`);
    if (Date.now() > end) throw new Error(`process ${root} did not run ${exe} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

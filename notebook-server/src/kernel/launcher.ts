// Starts a kernel process from a kernelspec: argv substitution, env merge, cwd,
// and a ring buffer of its stderr so failures can show what Python said.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSetting } from '../config/index.ts';
import { signalGroup } from '../proc/process.ts';
import { experimentEnv } from '../sandbox/env.ts';
import type { MemoryCgroupFiles } from './oom.ts';
import { sleep } from './util.ts';

export interface KernelSpec {
  argv: string[];
  display_name: string;
  language: string;
  interrupt_mode?: 'signal' | 'message';
  env?: Record<string, string>;
  metadata?: Record<string, unknown>;
  /** Directory of kernel.json ({resource_dir}). */
  resource_dir?: string;
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export const defaultKernelSpecPath = (): string => join(repoRoot, 'kernels/pysd/kernelspec/kernel.json');

/** The standard-library client that asks the zygote for a model check, from inside its sandbox. */
export const checkClientPath = (): string =>
  join(repoRoot, 'kernels/pysd/python/peragus_pysd/check_client.py');

/** The venv interpreter of the PySD kernel; PERAGUS_PYTHON overrides. */
export function resolvePython(): string {
  return readSetting('python') ?? join(repoRoot, 'kernels/pysd/.venv/bin/python');
}

export function loadKernelSpec(path = defaultKernelSpecPath()): KernelSpec {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as Partial<KernelSpec>;
  if (!Array.isArray(raw.argv) || raw.argv.length === 0 || !raw.argv.every((a) => typeof a === 'string')) {
    throw new Error(`kernelspec ${path}: "argv" must be a non-empty list of strings`);
  }
  return {
    argv: raw.argv,
    display_name: raw.display_name ?? 'kernel',
    language: raw.language ?? 'python',
    interrupt_mode: raw.interrupt_mode === 'message' ? 'message' : 'signal',
    env: raw.env ?? {},
    metadata: raw.metadata ?? {},
    resource_dir: dirname(path),
  };
}

/** Fixed-size tail of a byte stream, so a chatty kernel cannot grow memory. */
export class RingBuffer {
  #chunks: Buffer[] = [];
  #size = 0;
  readonly #capacity: number;
  constructor(capacity = 16 * 1024) {
    this.#capacity = capacity;
  }

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#size - (this.#chunks[0]?.length ?? 0) >= this.#capacity) {
      this.#size -= (this.#chunks.shift() as Buffer).length;
    }
  }

  text(): string {
    const all = Buffer.concat(this.#chunks);
    return all.subarray(Math.max(0, all.length - this.#capacity)).toString('utf8');
  }
}

export interface LaunchOptions {
  spec: KernelSpec;
  connectionFile: string;
  cwd?: string;
  env?: Record<string, string>;
}

export interface KernelProcess {
  readonly pid: number;
  /** The spawned process (absent for a kernel forked by the zygote). */
  readonly child?: ChildProcess;
  /** Resolves once the process has exited (never rejects). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly hasExited: boolean;
  stderrTail(): string;
  /** All of its own output this host keeps (a ring of 16 KB): what container_logs shows. */
  output(): string;
  /** Signals the kernel's whole process group (it runs in its own session). */
  signal(sig: NodeJS.Signals): void;
  /**
   * The memory cgroup the kernel runs under, when not this process's (a Docker container's,
   * read from the host): where an OOM kill of the kernel is counted (kernel/oom.ts).
   */
  memoryCgroup?: MemoryCgroupFiles[];
}

const live = new Set<KernelProcess>();
let exitHookInstalled = false;

// Kernels run detached (own process group, so a terminal Ctrl-C does not hit
// them and interrupts reach their children); kill them when we exit.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const k of live) k.signal('SIGKILL');
  });
}

/** Kernels we started are SIGKILLed when this process exits. */
export function trackKernel(proc: KernelProcess): void {
  live.add(proc);
  installExitHook();
  void proc.exited.then(() => live.delete(proc));
}

export function substituteArgv(argv: string[], vars: Record<string, string>): string[] {
  return argv.map((a) => a.replace(/\{(\w+)\}/g, (m, name: string) => vars[name] ?? m));
}

/** The argv, cwd and environment a kernel is started with (cold spawn or zygote fork). */
export function kernelCommand(options: LaunchOptions): {
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
} {
  const { spec, connectionFile } = options;
  const argv = substituteArgv(spec.argv, {
    connection_file: connectionFile,
    python: resolvePython(),
    resource_dir: spec.resource_dir ?? '',
  });
  const cwd = options.cwd ?? process.cwd();
  if (!existsSync(cwd)) throw new Error(`kernel working directory does not exist: ${cwd}`);
  // Allow-listed: the host's token and secrets never reach kernel code (sandbox/env.ts).
  const env: NodeJS.ProcessEnv = {
    ...experimentEnv({}, { sandboxed: false }),
    ...spec.env,
    ...options.env,
    JPY_PARENT_PID: String(process.pid),
    PERAGUS_PARENT_PID: String(process.pid),
  };
  return { argv, cwd, env };
}

export function launchKernel(options: LaunchOptions): KernelProcess {
  const { argv, cwd, env } = kernelCommand(options);
  return spawnKernel(argv, cwd, env);
}

/** A kernel process from its whole argv (its own process group, its output kept for its tail). */
export function spawnKernel(argv: string[], cwd: string, env: NodeJS.ProcessEnv): KernelProcess {
  const child = spawn(argv[0] as string, argv.slice(1), {
    cwd,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr = new RingBuffer();
  child.stderr?.on('data', (d: Buffer) => stderr.push(d));
  // stdout is rarely used by ipykernel (outputs go over iopub) but fd-level
  // writes during startup land there; keep them next to stderr.
  child.stdout?.on('data', (d: Buffer) => stderr.push(d));

  let hasExited = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.once('exit', (code, signal) => {
      hasExited = true;
      live.delete(proc);
      // 'exit' can precede the last stderr bytes; wait briefly for the pipes to
      // drain (not for 'close' alone: a grandchild may hold them open).
      let settled = false;
      const settle = () => {
        if (settled) return;
        settled = true;
        res({ code, signal });
      };
      child.once('close', settle);
      setTimeout(settle, 200).unref();
    });
    child.once('error', (err) => {
      stderr.push(Buffer.from(`failed to start ${argv[0]}: ${err.message}\n`));
      hasExited = true;
      live.delete(proc);
      res({ code: null, signal: null });
    });
  });
  const proc: KernelProcess = {
    pid: child.pid ?? -1,
    child,
    exited,
    get hasExited() {
      return hasExited;
    },
    stderrTail: () => tailLines(stderr.text(), 40),
    output: () => stderr.text().trimEnd(),
    signal(sig) {
      if (hasExited || !child.pid) return;
      signalGroup(child.pid, sig);
    },
  };
  live.add(proc);
  installExitHook();
  return proc;
}

/** The last `n` lines of a process's output. */
export function tailLines(text: string, n: number): string {
  const lines = text.trimEnd().split('\n');
  return lines.slice(-n).join('\n');
}

/** Waits graceMs for a requested exit, then SIGTERM, then SIGKILL (2 s each). */
export async function terminate(proc: KernelProcess, graceMs: number): Promise<void> {
  if (proc.hasExited) return;
  const exited = proc.exited.then(() => true);
  const within = (ms: number) => Promise.race([exited, sleep(ms).then(() => false)]);
  if (graceMs > 0 && (await within(graceMs))) return;
  proc.signal('SIGTERM');
  if (await within(2_000)) return;
  proc.signal('SIGKILL');
  await within(2_000);
}

/**
 * A kernel whose launch waits for `start` (a step that must come first, such as registering its
 * sandbox with a zygote started again): the pid is -1 and signals wait until it is launched; a
 * failed step is an exit with its message as the stderr tail, as a launch that failed would be.
 */
export function deferredKernel(start: Promise<KernelProcess>): KernelProcess {
  let inner: KernelProcess | undefined;
  let failure = '';
  let failed = false;
  const pending: NodeJS.Signals[] = [];
  const exited = start.then(
    (proc) => {
      inner = proc;
      for (const sig of pending.splice(0)) proc.signal(sig);
      return proc.exited;
    },
    (err: Error) => {
      failed = true;
      failure = err.message;
      return { code: null, signal: null };
    },
  );
  return {
    get pid() {
      return inner?.pid ?? -1;
    },
    exited,
    get hasExited() {
      return failed || (inner?.hasExited ?? false);
    },
    get memoryCgroup() {
      return inner?.memoryCgroup;
    },
    stderrTail: () => inner?.stderrTail() ?? failure,
    output: () => inner?.output() ?? failure,
    signal(sig) {
      if (inner) inner.signal(sig);
      else if (!failed) pending.push(sig);
    },
  };
}

// The kernel zygote (kernels/pysd/python/peragus_pysd/zygote.py): a Python
// process with ipykernel + PySD + peragus_pysd imported once, which forks one
// kernel process per request. startZygote() runs it; launchFromZygote() asks it
// for a kernel and returns the same KernelProcess a cold spawn returns (pid,
// exit, stderr tail, process-group signals). PERAGUS_KERNEL_ZYGOTE names the
// socket for child processes (the local runtime's node roles); "0" turns the
// fast path off everywhere.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { readSetting } from '../config/index.ts';
import type { Logger } from '../log/index.ts';
import { signalGroup } from '../proc/process.ts';
import { experimentEnv } from '../sandbox/env.ts';
import {
  type KernelProcess,
  kernelCommand,
  type LaunchOptions,
  launchKernel,
  RingBuffer,
  resolvePython,
  tailLines,
  trackKernel,
} from './launcher.ts';

export const ZYGOTE_ENV = 'PERAGUS_KERNEL_ZYGOTE';

/** The zygote socket this process should use, or undefined for the cold path. */
export function zygoteSocket(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const v = readSetting('kernelZygote', env);
  return v && v !== '0' && existsSync(v) ? v : undefined;
}

export const zygoteDisabled = (env: NodeJS.ProcessEnv = process.env): boolean =>
  readSetting('kernelZygote', env) === '0';

/** Where sandboxes are registered for a zygote's forks: the zygote itself, or its check server. */
export interface ZygoteRegistry {
  /**
   * Registers a sandboxed experiment: resolves to a socket of that experiment alone (owned by
   * `owner`), to bind into its sandbox. Kernels asked for on it join that sandbox, whatever the request says.
   * Role `check`: a sandbox made for one model check, which its socket forks once (and no kernel).
   */
  register(id: string, owner: { uid: number; gid: number }, role?: 'kernel' | 'check'): Promise<string>;
  /**
   * Names the experiment's sandbox: the pid of the bubblewrap process that made it; with `init`,
   * the pid of the sandbox's first process itself (a Docker container's init, for a zygote in the
   * host's pid namespace), with `cgroups` its kernels join that process's cgroups too, and with
   * `seccomp` they add the filter of peragus_pysd/seccomp.py.
   */
  attach(
    id: string,
    sandboxPid: number,
    options?: { init?: boolean; cgroups?: boolean; seccomp?: boolean },
  ): Promise<void>;
  /** Ends an experiment: its socket is removed and its kernels are killed. */
  revoke(id: string): Promise<void>;
  /**
   * Imports what running `experiment` needs beyond a kernel's own (peragus_pysd/preload.py: SALib
   * for sensitivity types, scipy.stats for distributions), once, for every kernel forked after.
   * Resolves to the modules' names.
   */
  preload(experiment: unknown): Promise<string[]>;
}

/** What a kernel is started with: ipykernel's argv after `-m peragus_pysd.kernel_launcher`, its cwd and environment. */
export interface ZygoteKernelRequest {
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
}

export interface Zygote extends ZygoteRegistry {
  readonly socketPath: string;
  readonly pid: number;
  /**
   * A kernel forked into a registered (and attached) experiment's sandbox for this host itself,
   * which then serves that experiment's session without a process of its own in the sandbox.
   * Asked on the main socket (this host's alone); the kernel's pid is this host's.
   */
  forkInto(id: string, request: ZygoteKernelRequest): KernelProcess;
  /** Stops the zygote (it kills the kernels it forked) and waits until it has exited. */
  close(): Promise<void>;
}

/**
 * Has `zygote` (when there is one) import what `experiment` needs before the kernels it forks for
 * it. A failure is logged, never thrown: those kernels then import the modules themselves.
 * `stopped` says whether the runtime let this zygote go meanwhile (a plan refused by its check, the
 * host going): stopped on purpose, it forks no more kernels, so there is nothing to warn of.
 */
export async function preloadOrWarn(
  zygote: Promise<ZygoteRegistry | null> | ZygoteRegistry | null,
  experiment: unknown,
  log: Pick<Logger, 'warn'>,
  stopped: () => boolean = () => false,
): Promise<void> {
  try {
    await (await zygote)?.preload(experiment);
  } catch (err) {
    if (stopped()) return;
    log.warn(`peragus: kernels import their experiment's modules themselves: ${(err as Error).message}`);
  }
}

/**
 * A zygote this process did not start (a Docker runtime's, in a container of its own), reached on
 * its main socket: its registry and the kernels it forks into registered sandboxes for this host.
 */
export function zygoteAt(
  socketPath: string,
  timeoutMs = 10_000,
): ZygoteRegistry & Pick<Zygote, 'forkInto' | 'socketPath'> {
  return {
    socketPath,
    forkInto: (id, request) => launchFromZygote(socketPath, { op: 'fork', id, ...request }),
    ...registryAt(socketPath, timeoutMs),
  };
}

/** The registry on a zygote's (or its check server's) socket; `timeoutMs` bounds each answer. */
function registryAt(socketPath: string, timeoutMs: number): ZygoteRegistry {
  return {
    register: async (id, owner, role = 'kernel') => {
      const reply = await control(
        socketPath,
        { op: 'register', id, uid: owner.uid, gid: owner.gid, role },
        timeoutMs,
      );
      return String(reply.socket);
    },
    attach: async (id, sandboxPid, options = {}) => {
      await control(socketPath, { op: 'attach', id, pid: sandboxPid, ...options }, timeoutMs);
    },
    revoke: async (id) => {
      await control(socketPath, { op: 'revoke', id }, timeoutMs);
    },
    preload: async (experiment) => {
      // Imports take seconds (SALib with scipy.stats: ≈ 1.3 s), not a control answer's time.
      const reply = await control(socketPath, { op: 'preload', experiment }, Math.max(timeoutMs, 120_000));
      return Array.isArray(reply.modules) ? reply.modules.map(String) : [];
    },
  };
}

/** One request on the zygote's main socket (only this host reaches it) and its one-line answer. */
function control(
  socketPath: string,
  request: Record<string, unknown>,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const conn = createConnection(socketPath);
    let buf = '';
    conn.setEncoding('utf8');
    conn.setTimeout(timeoutMs, () =>
      conn.destroy(new Error(`the kernel zygote did not answer within ${timeoutMs / 1000} s`)),
    );
    conn.on('data', (d: string) => {
      buf += d;
    });
    conn.on('error', reject);
    conn.on('close', () => {
      try {
        const reply = JSON.parse(buf.split('\n')[0] ?? '') as Record<string, unknown>;
        if (typeof reply.error === 'string') reject(new Error(`kernel zygote: ${reply.error}`));
        else resolve(reply);
      } catch {
        reject(new Error(`kernel zygote: no answer to ${String(request.op)}`));
      }
    });
    conn.write(`${JSON.stringify(request)}\n`);
  });
}

/** Calls `handle` with each whole line `stream` sends (UTF-8, without its newline). */
function onLines(stream: Readable, handle: (line: string) => void): void {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      handle(line);
    }
  });
}

export interface ZygoteOptions {
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
  /**
   * Called with the zygote's check server once it is forked (before the zygote's own kernel
   * imports are done): model checks are registered there, and it answers once it has imported
   * PySD's translators, beside the zygote's imports. Without it the zygote forks no check server.
   */
  onChecks?: (checks: ZygoteRegistry) => void;
  /**
   * The check server before the kernels: the zygote imports what a check needs, forks it, then
   * imports what kernels need (a plan's check first), and skips the warm-up translation that
   * speeds up later checks (`peragus run` checks one plan). Else the check server imports beside
   * the zygote's kernel imports (a session's first kernel first) and warms up.
   */
  checksFirst?: boolean;
}

/** Starts a zygote; resolves once it has imported everything and listens. */
export function startZygote(options: ZygoteOptions = {}): Promise<Zygote> {
  const socketPath = join(tmpdir(), `peragus-zygote-${process.pid}-${randomBytes(4).toString('hex')}.sock`);
  const checksPath = `${socketPath}.check`;
  const args = ['-m', 'peragus_pysd.zygote', '--socket', socketPath];
  if (options.onChecks) args.push('--checks', checksPath, ...(options.checksFirst ? ['--checks-first'] : []));
  const child: ChildProcess = spawn(resolvePython(), args, {
    // Allow-listed like every kernel: a forked kernel can read the zygote's initial
    // environment (/proc/self/environ), so the host's token must never be in it.
    env: experimentEnv(
      { ...options.env, MPLBACKEND: 'Agg', PYTHONUNBUFFERED: '1', PERAGUS_PARENT_PID: String(process.pid) },
      { sandboxed: false },
    ),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr = new RingBuffer(8 * 1024);
  child.stderr?.on('data', (d: Buffer) => stderr.push(d));
  let exited = false;
  const gone = new Promise<void>((res) => child.once('exit', () => res()));
  void gone.then(() => {
    exited = true;
  });
  const kill = () => {
    if (!exited) child.kill('SIGTERM');
    rmSync(socketPath, { force: true });
    rmSync(checksPath, { force: true });
  };
  const close = async () => {
    process.off('exit', kill);
    // Keep this process alive until the zygote has gone (it was unref'd once ready).
    child.ref();
    kill();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([gone, new Promise((r) => (timer = setTimeout(r, 5_000)))]);
    clearTimeout(timer);
  };
  process.once('exit', kill);
  return new Promise<Zygote>((resolve, reject) => {
    const timer = setTimeout(() => {
      kill();
      reject(new Error(`the kernel zygote did not start within ${options.readyTimeoutMs ?? 120_000} ms`));
    }, options.readyTimeoutMs ?? 120_000);
    if (child.stdout) {
      onLines(child.stdout, (raw) => {
        const line = raw.trim();
        // Its imports take as long again as the check server's: a check need not wait for them.
        if (line === 'checks') options.onChecks?.(registryAt(checksPath, options.readyTimeoutMs ?? 120_000));
        if (line !== 'ready') return;
        clearTimeout(timer);
        // The child kept this process alive until it was ready; now it runs on its own (close() ends it).
        child.unref();
        (child.stdout as { unref?: () => void } | null)?.unref?.();
        (child.stderr as { unref?: () => void } | null)?.unref?.();
        resolve({
          socketPath,
          pid: child.pid as number,
          close,
          forkInto: (id, request) => launchFromZygote(socketPath, { op: 'fork', id, ...request }),
          ...registryAt(socketPath, 10_000),
        });
      });
    }
    child.once('exit', (code) => {
      clearTimeout(timer);
      process.off('exit', kill);
      reject(
        new Error(`the kernel zygote exited (${code}) before it was ready: ${stderr.text().slice(-1500)}`),
      );
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start the kernel zygote (${resolvePython()}): ${err.message}`));
    });
  });
}

/** A zygote being started, and where its model checks will be registered (see ZygoteOptions.onChecks). */
export interface StartingZygote {
  zygote: Promise<Zygote>;
  /** Its check server once forked, else the zygote itself once ready; null if it never started. */
  checks: Promise<ZygoteRegistry | null>;
}

/** Starts a zygote, with a check server when `withChecks`. */
export function startZygoteWithChecks(withChecks: boolean, options: ZygoteOptions = {}): StartingZygote {
  let checksAt: (checks: ZygoteRegistry | null) => void = () => undefined;
  const checks = new Promise<ZygoteRegistry | null>((resolve) => (checksAt = resolve));
  const zygote = startZygote(withChecks ? { ...options, onChecks: checksAt } : options);
  // No check server: the zygote forks checks itself.
  zygote.then(checksAt, () => checksAt(null));
  return { zygote, checks };
}

let early: StartingZygote | undefined;

/**
 * `peragus run` of a local plan whose checks are forked (sandbox/bwrap.ts forkedChecks) starts the
 * zygote, with its check server first, before it loads the host (≈ 0.2 s of modules):
 * the zygote's imports, then its check server's, are the plan's critical path. The host's local
 * runtime takes it over (takeEarlyZygote); one never taken dies with this process.
 */
export function startZygoteEarly(): void {
  early ??= startZygoteWithChecks(true, { checksFirst: true });
}

/** The zygote startZygoteEarly() started, once (undefined: none, or already taken). */
export function takeEarlyZygote(): StartingZygote | undefined {
  const taken = early;
  early = undefined;
  return taken;
}

interface ZygoteMessage {
  pid?: number;
  out?: string;
  exit?: number | null;
  signal?: NodeJS.Signals | null;
  error?: string;
}

export interface ZygoteLaunchOptions {
  /** Opens the connection (default: connect to socketPath), e.g. through a pinned descriptor. */
  connect?: () => Socket;
  /**
   * The zygote is in another pid namespace (a Docker container's own): its answer's pid is not
   * this host's, so signals are asked for on the connection (`{"signal": …}` lines) instead.
   */
  signalsByLine?: boolean;
}

/**
 * Asks the zygote at socketPath for a kernel (ipykernel argv after `-m
 * peragus_pysd.kernel_launcher`).
 */
export function launchFromZygote(
  socketPath: string,
  request: ZygoteKernelRequest & { op?: 'fork'; id?: string },
  options: ZygoteLaunchOptions = {},
): KernelProcess {
  const stderr = new RingBuffer();
  const conn = options.connect ? options.connect() : createConnection(socketPath);
  let pid = -1;
  let hasExited = false;
  const pending: NodeJS.Signals[] = [];
  let settle: (v: { code: number | null; signal: NodeJS.Signals | null }) => void = () => undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    settle = (v) => {
      if (hasExited) return;
      hasExited = true;
      conn.destroy();
      res(v);
    };
  });
  const send = options.signalsByLine
    ? (sig: NodeJS.Signals) => {
        if (!conn.destroyed) conn.write(`${JSON.stringify({ signal: sig })}\n`);
      }
    : (sig: NodeJS.Signals) => signalGroup(pid, sig);
  onLines(conn, (line) => {
    let msg: ZygoteMessage;
    try {
      msg = JSON.parse(line) as ZygoteMessage;
    } catch {
      return;
    }
    if (typeof msg.pid === 'number') {
      pid = msg.pid;
      for (const sig of pending.splice(0)) send(sig);
    }
    if (typeof msg.out === 'string') stderr.push(Buffer.from(msg.out));
    if (msg.error) stderr.push(Buffer.from(`kernel zygote: ${msg.error}\n`));
    if ('exit' in msg) settle({ code: msg.exit ?? null, signal: msg.signal ?? null });
  });
  conn.on('error', (err) => {
    stderr.push(
      Buffer.from(
        `the kernel zygote at ${socketPath} is not reachable (${err.message}); set ${ZYGOTE_ENV}=0 to start kernels directly\n`,
      ),
    );
  });
  conn.on('close', () => settle({ code: null, signal: null }));
  conn.write(`${JSON.stringify(request)}\n`);
  const proc: KernelProcess = {
    get pid() {
      return pid;
    },
    exited,
    get hasExited() {
      return hasExited;
    },
    stderrTail: () => tailLines(stderr.text(), 40),
    output: () => stderr.text().trimEnd(),
    signal(sig) {
      if (hasExited) return;
      if (pid < 0) {
        pending.push(sig);
        if (sig === 'SIGKILL') conn.destroy(); // the zygote kills a kernel whose requester hung up
        return;
      }
      send(sig);
    },
  };
  trackKernel(proc);
  return proc;
}

/**
 * The Peragus kernelspec (`{python} -m peragus_pysd.kernel_launcher ...`) is
 * forked by the zygote when one is configured; any other kernelspec, or no
 * zygote, is spawned cold.
 */
export function launchAny(options: LaunchOptions): KernelProcess {
  const socket = zygoteSocket();
  const { argv, cwd, env } = kernelCommand(options);
  const args = socket ? zygoteKernelArgs(argv) : undefined;
  if (socket && args) return launchFromZygote(socket, { argv: args, cwd, env });
  return launchKernel(options);
}

/**
 * ipykernel's argv after `-m peragus_pysd.kernel_launcher`, when `argv` is the Peragus
 * kernelspec's on our Python: what the zygote can fork. Undefined for any other kernel.
 */
export function zygoteKernelArgs(argv: string[]): string[] | undefined {
  const peragus =
    argv[1] === '-m' && argv[2] === 'peragus_pysd.kernel_launcher' && argv[0] === resolvePython();
  return peragus ? argv.slice(3) : undefined;
}

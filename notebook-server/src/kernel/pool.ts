// A warm pool: kernels started ahead of time (PySD already imported by the
// launcher), handed out in milliseconds and refilled in the background.
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { KernelClient } from './client.ts';
import { KernelError } from './errors.ts';
import { type StartKernelOptions, startKernel } from './start.ts';

export interface KernelPoolOptions extends Omit<StartKernelOptions, 'workDir' | 'env'> {
  /** Kernels kept ready (default 2). 0 makes acquire() a cold start. */
  size?: number;
  /** Working directory of kernels while they wait in the pool (default: the OS temp dir). */
  idleDir?: string;
  /** Pause before retrying after a failed start, so a broken kernelspec does not spin (default 5 s). */
  retryDelayMs?: number;
  /**
   * Kernels the pool pre-starts over its whole life (default unlimited). A
   * node serving one experiment needs one warm kernel, not a refill it will
   * never use; after that, acquire() starts kernels cold.
   */
  maxStarts?: number;
  /** The environment kernels start with (an acquire's own env is set on top of it). */
  kernelEnv?: Record<string, string>;
}

export interface AcquireOptions {
  /** The kernel chdirs here before it is handed out. */
  workDir: string;
  /** Set in the kernel's os.environ before it is handed out. */
  env?: Record<string, string>;
}

type Waiter = { resolve: (k: KernelClient) => void; reject: (e: Error) => void };

export class KernelPool {
  readonly #size: number;
  readonly #idle: KernelClient[] = [];
  readonly #waiters: Waiter[] = [];
  readonly #onIdleDead = new Map<KernelClient, () => void>();
  #starting = 0;
  /** Starts in progress (each settles after its kernel is pooled or, once closed, shut down). */
  readonly #inflight = new Set<Promise<unknown>>();
  #closed = false;
  #lastError: Error | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  readonly #fullListeners: (() => void)[] = [];

  #prestarted = 0;
  get #maxStarts(): number {
    return this.#options.maxStarts ?? Number.POSITIVE_INFINITY;
  }

  readonly #options: KernelPoolOptions;
  constructor(options: KernelPoolOptions = {}) {
    this.#options = options;
    this.#size = options.size ?? 2;
    this.#refill();
  }

  get stats(): { idle: number; starting: number; size: number } {
    return { idle: this.#idle.length, starting: this.#starting, size: this.#size };
  }

  /** The pooled idle kernels, oldest first (read-only view, for inspection). */
  get idleKernels(): readonly KernelClient[] {
    return this.#idle;
  }

  /** Resolves when every slot holds a ready kernel (for benchmarks and tests). */
  whenFull(): Promise<void> {
    if (this.#idle.length >= this.#size) return Promise.resolve();
    return new Promise((resolve) => this.#fullListeners.push(resolve));
  }

  /** A ready kernel whose cwd (and env) is set for the caller; it is the caller's to shut down. */
  async acquire(options: AcquireOptions): Promise<KernelClient> {
    if (this.#closed) throw new KernelError('kernel pool is shut down');
    // Checked here so a typo does not cost a warm kernel.
    if (!statSync(options.workDir, { throwIfNoEntry: false })?.isDirectory()) {
      throw new KernelError(`work dir does not exist or is not a directory: ${options.workDir}`);
    }
    const spent = this.#idle.length === 0 && this.#starting === 0 && this.#prestarted >= this.#maxStarts;
    const kernel = this.#size === 0 || spent ? await this.#cold() : await this.#take();
    this.#refill();
    try {
      const inside = this.#options.inSandbox?.pathInside;
      await prepare(kernel, inside ? { ...options, workDir: inside(options.workDir) } : options);
    } catch (err) {
      await kernel.shutdown();
      throw err;
    }
    return kernel;
  }

  /** Cold start outside the pool, straight into workDir (what acquire() saves you). */
  startCold(options: AcquireOptions): Promise<KernelClient> {
    return startKernel({
      ...this.#options,
      workDir: options.workDir,
      env: { ...this.#options.kernelEnv, ...options.env },
    });
  }

  async shutdown(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    const error = new KernelError('kernel pool is shut down');
    for (const w of this.#waiters.splice(0)) w.reject(error);
    const kernels = this.#idle.splice(0);
    await Promise.allSettled([...kernels.map((k) => k.shutdown()), ...this.#inflight]);
  }

  #take(): Promise<KernelClient> {
    const kernel = this.#idle.shift();
    if (kernel) {
      this.#detach(kernel);
      return Promise.resolve(kernel);
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  #cold(): Promise<KernelClient> {
    const env = this.#options.kernelEnv;
    return startKernel({
      ...this.#options,
      workDir: this.#options.idleDir ?? tmpdir(),
      ...(env ? { env } : {}),
    });
  }

  #refill(): void {
    if (this.#closed || this.#retryTimer) return;
    while (
      this.#idle.length + this.#starting < this.#size + this.#waiters.length &&
      this.#size > 0 &&
      this.#prestarted < this.#maxStarts
    ) {
      this.#starting += 1;
      this.#prestarted += 1;
      const start: Promise<unknown> = this.#cold().then(
        (kernel) => {
          this.#starting -= 1;
          this.#lastError = undefined;
          // Started after shutdown(): stop it here, and shutdown() waits for that.
          if (this.#closed) return kernel.shutdown();
          this.#offer(kernel);
        },
        (err: Error) => {
          this.#starting -= 1;
          this.#lastError = err;
          for (const w of this.#waiters.splice(0)) w.reject(err);
          if (this.#closed) return;
          this.#retryTimer = setTimeout(() => {
            this.#retryTimer = undefined;
            this.#refill();
          }, this.#options.retryDelayMs ?? 5_000);
          this.#retryTimer.unref();
        },
      );
      this.#inflight.add(start);
      const forget = () => this.#inflight.delete(start);
      start.then(forget, forget);
    }
  }

  #offer(kernel: KernelClient): void {
    const waiter = this.#waiters.shift();
    if (waiter) {
      waiter.resolve(kernel);
      return;
    }
    // A kernel that dies while waiting in the pool is replaced, not handed out.
    const onDead = () => {
      const i = this.#idle.indexOf(kernel);
      if (i >= 0) this.#idle.splice(i, 1);
      this.#detach(kernel);
      void kernel.shutdown();
      this.#refill();
    };
    this.#onIdleDead.set(kernel, onDead);
    kernel.on('dead', onDead);
    this.#idle.push(kernel);
    if (this.#idle.length >= this.#size) for (const l of this.#fullListeners.splice(0)) l();
  }

  #detach(kernel: KernelClient): void {
    const onDead = this.#onIdleDead.get(kernel);
    if (onDead) kernel.off('dead', onDead);
    this.#onIdleDead.delete(kernel);
  }

  /** The error of the last failed start, if the pool is currently failing. */
  get error(): Error | undefined {
    return this.#lastError;
  }
}

/** chdir (and env) via one silent execute: no history, no execution count. */
async function prepare(kernel: KernelClient, options: AcquireOptions): Promise<void> {
  // JSON string literals are valid Python string literals for any path.
  const lines = ['import os as _peragus_os', `_peragus_os.chdir(${JSON.stringify(options.workDir)})`];
  if (options.env && Object.keys(options.env).length > 0) {
    lines.push(`_peragus_os.environ.update(${JSON.stringify(options.env)})`);
  }
  lines.push('del _peragus_os');
  const result = await kernel.execute(lines.join('\n'), { silent: true });
  if (result.status !== 'ok') {
    throw new KernelError(
      `could not prepare kernel for ${options.workDir}: ${result.error?.ename}: ${result.error?.evalue}`,
    );
  }
}

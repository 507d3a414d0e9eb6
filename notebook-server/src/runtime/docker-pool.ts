// A warm pool of experiment containers: started ahead of time (node role
// serving, its kernel warm), each handed out at most once, refilled one at a
// time in the background, and drained on close. What a pool entry is and how
// it is made, checked and thrown away is the runtime's business (docker.ts);
// this class only keeps the count, the order and the promises.

import { readSetting } from '../config/index.ts';

import type { HostedKind } from './docker-hosted.ts';

export interface PoolEntry {
  container_id: string;
  /** Pool slot id: names the slot's volume folder until the hand-over. */
  pool_id: string;
  /** <home>/docker-pool/<pool_id>: the volume (work/) and its cap image. */
  root: string;
  /** Host endpoint of the slot's node role, or its kernel zygote when `hosted` (before the hand-over). */
  endpoint: string;
  /** The host serves the sessions: the slot runs its own kernel zygote or joins the shared one's kernels. */
  hosted?: HostedKind;
  /** The environment the slot's container was created with. */
  env?: Record<string, string>;
}

export interface PoolDeps {
  fill(): Promise<PoolEntry>;
  /** True when the entry can still be handed over (running, endpoint answers). */
  alive(entry: PoolEntry): Promise<boolean>;
  /** Removes the container and its volume; never throws. */
  discard(entry: PoolEntry): Promise<void>;
  onError?(err: unknown): void;
  /**
   * How long a refill waits after a hand-over (default REFILL_DELAY_MS): the container just
   * handed over gets the daemon and the CPU for its first calls, instead of sharing them with
   * the create and start of its replacement.
   */
  refillDelayMs?: number;
}

/**
 * A warm start (create → first cell ok) is ≈ 90 ms when its container has the machine to
 * itself and ≈ 150 ms beside a refill's create and start; 300 ms covers the first cell with room.
 */
export const REFILL_DELAY_MS = 300;

/** PERAGUS_DOCKER_POOL: warm containers kept ready (0 turns the pool off). */
export function poolSizeFrom(env: NodeJS.ProcessEnv = process.env): number {
  return readSetting('dockerPool', env);
}

export class DockerPool {
  readonly #ready: PoolEntry[] = [];
  #filling: Promise<void> | null = null;
  #closed = false;
  #failures = 0;
  /** Creates still expected (plans say how many); undefined: no limit. */
  #budget: number | undefined;
  readonly #waiters: (() => void)[] = [];
  #refillTimer: NodeJS.Timeout | undefined;

  readonly #deps: PoolDeps;
  constructor(
    readonly size: number,
    deps: PoolDeps,
  ) {
    this.#deps = deps;
  }

  get readyCount(): number {
    return this.#ready.length;
  }

  /** Entries worth having: never more than the creates still expected. */
  get #target(): number {
    return Math.min(this.size, this.#budget ?? this.size);
  }

  /** `n` more creates are coming (a plan's experiments): the pool fills for them, and not past them. */
  expect(n: number): void {
    this.#budget = (this.#budget ?? 0) + Math.max(0, n);
    this.start();
  }

  /** One expected create happened (pooled or not). */
  consumed(): void {
    if (this.#budget !== undefined) this.#budget = Math.max(0, this.#budget - 1);
  }

  /** Starts filling up to `size` (one container at a time, in the background). */
  start(): void {
    if (this.#closed || this.#filling || this.size <= 0) return;
    if (this.#ready.length >= this.#target) return;
    this.#filling = this.#fillLoop().finally(() => {
      this.#filling = null;
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  async #fillLoop(): Promise<void> {
    // Three failures in a row (no image, daemon trouble) stop the refill until the next start().
    while (!this.#closed && this.#ready.length < this.#target && this.#failures < 3) {
      let entry: PoolEntry;
      try {
        entry = await this.#deps.fill();
        this.#failures = 0;
      } catch (err) {
        this.#failures += 1;
        this.#deps.onError?.(err);
        continue;
      }
      if (this.#closed) {
        await this.#deps.discard(entry);
        return;
      }
      this.#ready.push(entry);
      for (const w of this.#waiters.splice(0)) w();
    }
  }

  /**
   * A ready, live entry, or undefined when none is ready. Synchronous removal
   * from the list is what guarantees no entry is ever handed out twice. A
   * dead entry is discarded and the next one tried; a refill starts either way.
   */
  async take(): Promise<PoolEntry | undefined> {
    for (;;) {
      const entry = this.#ready.shift();
      if (!entry) {
        this.#failures = 0;
        this.start();
        return undefined;
      }
      if (await this.#deps.alive(entry)) {
        this.#startAfterHandOver();
        return entry;
      }
      void this.#deps.discard(entry);
    }
  }

  /** The refill after a hand-over: after REFILL_DELAY_MS (a burst of hand-overs shares one wait). */
  #startAfterHandOver(): void {
    const delay = this.#deps.refillDelayMs ?? REFILL_DELAY_MS;
    if (delay <= 0) {
      this.start();
      return;
    }
    this.#refillTimer ??= setTimeout(() => {
      this.#refillTimer = undefined;
      this.start();
    }, delay).unref();
  }

  /** Puts back an entry that was taken but not used (still clean). */
  giveBack(entry: PoolEntry): void {
    if (this.#closed) void this.#deps.discard(entry);
    else this.#ready.unshift(entry);
  }

  /** Resolves once `count` entries are ready (or filling stopped). */
  async whenReady(count = this.size): Promise<number> {
    this.start();
    while (!this.#closed && this.#ready.length < Math.min(count, this.#target) && this.#filling) {
      await new Promise<void>((r) => this.#waiters.push(r));
    }
    return this.#ready.length;
  }

  /** Stops refilling and removes every entry not handed out (waits for a fill under way). */
  async drain(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#refillTimer);
    this.#refillTimer = undefined;
    await this.#filling;
    const left = this.#ready.splice(0);
    await Promise.all(left.map((e) => this.#deps.discard(e)));
  }
}

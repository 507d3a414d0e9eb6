// The kernel of one session and its life cycle: started lazily, replaced on
// restart, reported when it dies. Each kernel generation is numbered so a
// start that finishes after a restart/close is thrown away, not used.

import { PeragusError } from '../errors/index.ts';
import type { Kernel } from '../kernel/types.ts';
import { SessionClosedError, SessionDeadError } from './errors.ts';
import type { SessionState } from './events.ts';

export type KernelSource = (options: { workDir: string }) => Promise<Kernel>;

export interface KernelSlotHooks {
  onState(state: SessionState): void;
  onDeath(reason: string, stderrTail: string): void;
  onStartFailed(error: Error): void;
}

class SupersededError extends PeragusError {
  constructor() {
    super('kernel_restarted', 'kernel start superseded by a restart or close');
  }
}

export class KernelSlot {
  #state: SessionState = 'not_started';
  #kernel: Kernel | null = null;
  #starting: Promise<Kernel> | null = null;
  #gen = 0;
  #detach: (() => void) | null = null;
  /** The latest kernel, kept after it died or was replaced: its process output stays readable. */
  #latest: Kernel | null = null;

  readonly #sessionId: string;
  readonly #source: KernelSource;
  readonly #workDir: string;
  readonly #hooks: KernelSlotHooks;
  constructor(sessionId: string, source: KernelSource, workDir: string, hooks: KernelSlotHooks) {
    this.#sessionId = sessionId;
    this.#source = source;
    this.#workDir = workDir;
    this.#hooks = hooks;
  }

  get state(): SessionState {
    return this.#state;
  }

  get kernel(): Kernel | null {
    return this.#kernel;
  }

  /** The latest kernel's own output outside cells (also after it died: how it died). */
  get kernelOutput(): string {
    const latest = this.#latest;
    return latest?.output?.() ?? latest?.stderrTail?.() ?? '';
  }

  /** The live kernel, starting one if there is none yet. */
  acquire(): Promise<Kernel> {
    if (this.#state === 'closed') return Promise.reject(new SessionClosedError(this.#sessionId));
    if (this.#state === 'dead') return Promise.reject(new SessionDeadError(this.#sessionId));
    if (this.#kernel) return Promise.resolve(this.#kernel);
    this.#starting ??= this.#start('starting');
    return this.#starting;
  }

  setBusy(busy: boolean): void {
    if (this.#kernel && (this.#state === 'idle' || this.#state === 'busy')) this.#set(busy ? 'busy' : 'idle');
  }

  /** Shuts the current kernel down (if any) and starts a fresh one. */
  async restart(): Promise<void> {
    const old = this.#drop();
    this.#set('restarting');
    if (old) await old.shutdown().catch(() => {});
    this.#starting = this.#start('restarting');
    await this.#starting;
  }

  /** A kernel that the execution queue no longer trusts (a cell that ignores interrupts): replace it lazily. */
  async discard(kernel: Kernel): Promise<void> {
    if (kernel !== this.#kernel) return;
    this.#drop();
    this.#set('not_started');
    await kernel.shutdown().catch(() => {});
  }

  /** Execute rejected and the kernel says it is dead: report it now rather than wait for the event. */
  noticeDeath(kernel: Kernel, reason: string): void {
    if (kernel.status === 'dead') this.#died(kernel, reason, '');
  }

  async close(): Promise<void> {
    const old = this.#drop();
    this.#set('closed');
    if (old) await old.shutdown().catch(() => {});
  }

  async #start(label: 'starting' | 'restarting'): Promise<Kernel> {
    const gen = this.#gen;
    this.#set(label);
    let kernel: Kernel;
    try {
      kernel = await this.#source({ workDir: this.#workDir });
    } catch (err) {
      if (gen === this.#gen) {
        this.#starting = null;
        this.#set('not_started');
        this.#hooks.onStartFailed(err instanceof Error ? err : new Error(String(err)));
      }
      throw err;
    }
    if (gen !== this.#gen) {
      void kernel.shutdown().catch(() => {});
      throw new SupersededError();
    }
    const onDead = (reason: string, tail: string) => this.#died(kernel, reason, tail);
    kernel.on('dead', onDead);
    this.#detach = () => kernel.off('dead', onDead);
    this.#kernel = kernel;
    this.#latest = kernel;
    this.#starting = null;
    this.#set('idle');
    // A pooled kernel may have died while it waited.
    if (kernel.status === 'dead') this.#died(kernel, 'the kernel was dead when acquired', '');
    return kernel;
  }

  #died(kernel: Kernel, reason: string, stderrTail: string): void {
    if (kernel !== this.#kernel) return; // an old kernel, or already reported
    this.#drop();
    this.#set('dead');
    // Reap the process and close its sockets; shutdown is idempotent.
    void kernel.shutdown().catch(() => {});
    this.#hooks.onDeath(reason, stderrTail || (kernel.stderrTail?.() ?? ''));
  }

  /** Forgets the current kernel (and any start in flight); returns it. */
  #drop(): Kernel | null {
    const old = this.#kernel;
    this.#detach?.();
    this.#detach = null;
    this.#kernel = null;
    this.#starting = null;
    this.#gen++;
    return old;
  }

  #set(state: SessionState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#hooks.onState(state);
  }
}

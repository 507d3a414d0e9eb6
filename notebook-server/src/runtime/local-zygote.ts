// The local runtime's one kernel zygote: started on first use (or taken from the CLI's early
// start), it forks each experiment's kernel with the imports already paid, and serves the
// plans' model checks. When it cannot start, kernels start cold and the reason is logged.
import {
  preloadOrWarn,
  startZygoteWithChecks,
  takeEarlyZygote,
  type Zygote,
  type ZygoteRegistry,
  zygoteDisabled,
} from '../kernel/zygote.ts';
import type { Logger } from '../log/index.ts';
import { forkedChecks, type IsolationCheck } from '../sandbox/bwrap.ts';
import type { WarmHint } from './types.ts';

export class RuntimeZygote {
  #zygote: Promise<Zygote | null> | undefined;
  /** Where model checks are registered: the zygote's check server, once forked. */
  #checks: Promise<ZygoteRegistry | null> | undefined;
  readonly #log: Logger;
  /** The runtime's isolation if already known (not probed for this: the zygote starts first). */
  readonly #knownIsolation: () => IsolationCheck | undefined;

  constructor(log: Logger, knownIsolation: () => IsolationCheck | undefined) {
    this.#log = log;
    this.#knownIsolation = knownIsolation;
  }

  /** The zygote, started now if none runs yet; null when kernels start cold. */
  get(): Promise<Zygote | null> {
    if (zygoteDisabled()) return Promise.resolve(null);
    if (!this.#zygote) {
      const starting = takeEarlyZygote() ?? startZygoteWithChecks(forkedChecks(this.#knownIsolation()));
      this.#checks = starting.checks;
      this.#zygote = starting.zygote.catch((err: Error) => {
        this.#log.warn(`peragus: kernels start cold: ${err.message}`);
        return null;
      });
    }
    return this.#zygote;
  }

  /** The zygote if one was started (never starts one). */
  async running(): Promise<Zygote | null | undefined> {
    return this.#zygote;
  }

  /** Starts the zygote, importing first what `hint.experiment` needs. */
  warm(hint: WarmHint): void {
    const zygote = this.get();
    // A zygote let go (close()) was stopped on purpose: its preload's end is no news.
    const retired = () => this.#zygote !== zygote;
    if (hint.experiment !== undefined) void preloadOrWarn(zygote, hint.experiment, this.#log, retired);
  }

  /**
   * The zygote a model check is forked from, when checks can be (`isolation` allows forked
   * checks). `start`: start one if none runs yet; else only one already running.
   */
  async checks(start: boolean, isolation: IsolationCheck): Promise<ZygoteRegistry | null> {
    if (!forkedChecks(isolation) || zygoteDisabled()) return null;
    if (!start && !this.#zygote) return null;
    void this.get();
    return (await this.#checks) ?? null;
  }

  /** Stops the zygote (and with it the kernels it forked). */
  async close(): Promise<void> {
    const zygote = await this.#zygote;
    this.#zygote = undefined;
    await zygote?.close();
  }
}

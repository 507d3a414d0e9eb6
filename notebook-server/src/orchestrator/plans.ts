// Runs plans: N experiments through a queue with at most K at once, per-
// experiment timeouts, retries that never duplicate a registered result, and
// plan state on disk so a restarted host resumes unfinished plans (and cleans
// containers the dead host left behind).
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { errorMessage } from '../catalog/errors.ts';
import { createLogger, type Logger } from '../log/index.ts';
import { writeStateFile } from '../runtime/state-file.ts';
import { type Plan, PlanInput } from '../schemas/plan.ts';
import {
  type LifecycleDeps,
  type PreparedExperiment,
  prepareExperiment,
  runExperimentLifecycle,
} from './lifecycle.ts';
import { checkPlanModel } from './plan-check.ts';
import { checkPlan, type ExperimentConfig, expandPlan } from './plan-expand.ts';

export interface PlanProgress {
  plan_id: string;
  done: number;
  total: number;
  experiment_id?: string;
  message: string;
  /** The lifecycle step the experiment just entered (provision, notebook, load, run, export, register, teardown). */
  step?: string;
  attempt?: number;
}

export interface ExperimentOutcome {
  experiment_id: string;
  fixed: Record<string, unknown>;
  status: 'finished' | 'failed' | 'cancelled' | 'skipped';
  attempts: number;
  error?: string;
  duration_ms: number;
  /** Kernel time of the load and run cells (0 when skipped or failed). */
  compute_ms: number;
}

export interface PlanSummary {
  plan_id: string;
  status: 'finished' | 'cancelled';
  total: number;
  finished: number;
  failed: number;
  wall_ms: number;
  experiments: ExperimentOutcome[];
}

/** A plan as stored on disk (it outlives its containers and the host process). */
export interface StoredPlan {
  plan_id: string;
  plan: Plan;
  status: 'running' | 'finished' | 'cancelled';
  created_at: string;
  /** True while this host process is running it. */
  live: boolean;
  /** Null until the plan reported progress in this host. */
  progress: PlanProgress | null;
}

interface PlanFile {
  plan_id: string;
  plan: Plan;
  model_text: string;
  status: 'running' | 'finished' | 'cancelled';
  created_at: string;
  /** 'cli': a `peragus run` plan, continued by running the same plan file again, never by a serving host. */
  owner?: 'cli';
}

/** A plan as the browser lists it: its state on disk and the last progress seen. */
interface RunningPlan {
  controller: AbortController;
  done: Promise<PlanSummary>;
  listeners: Set<(p: PlanProgress) => void>;
}

/** One experiment of a running plan, as its attempts see it. */
interface OneRun {
  file: PlanFile;
  config: ExperimentConfig;
  planSignal: AbortSignal;
  onStep: (message: string, step: string, attempt: number) => void;
  deferTeardown: (teardown: Promise<void>) => void;
  /** Its result was registered before this run of the plan began: it is skipped. */
  doneBefore: boolean;
  /** Waits for one of the plan's K slots (a retry after the slot was given up). */
  holdSlot: () => Promise<void>;
  /** Gives the slot up: the run is over. */
  releaseSlot: () => void;
}

/** The plan's K slots: a counting semaphore, first come first served. */
class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(count: number) {
    this.#free = count;
  }
  acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}

/** A catalog record that already holds this experiment's result: the plan never redoes it. */
function alreadyDone(record: { status: string; result_digest: string | null } | null | undefined): boolean {
  return record?.status === 'finished' && Boolean(record.result_digest);
}

export class PlanRunner {
  readonly #dir: string;
  readonly #home: string;
  readonly #running = new Map<string, RunningPlan>();
  readonly #lastProgress = new Map<string, PlanProgress>();
  /** Listeners of every plan's progress (the browser's plan view). */
  readonly #watchers = new Set<(p: PlanProgress) => void>();

  readonly #log: Logger;

  readonly #deps: LifecycleDeps;
  constructor(deps: LifecycleDeps, home: string, log: Logger = createLogger()) {
    this.#deps = deps;
    this.#log = log;
    this.#home = home;
    this.#dir = join(home, 'plans');
    mkdirSync(this.#dir, { recursive: true });
  }

  /** Validates and expands a plan (no side effects): used to decide on approval first. */
  prepare(input: unknown): { plan: Plan; count: number } {
    const parsed = PlanInput.safeParse(input);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'plan'}: ${i.message}`).join('; ');
      throw new Error(`invalid plan: ${issues}`);
    }
    return { plan: parsed.data, count: checkPlan(parsed.data) };
  }

  /** Reads the model from the plan (inline content, or a host file relative to baseDir). */
  modelText(plan: Plan, baseDir: string): string {
    if (plan.model.content !== undefined) return plan.model.content;
    const path = isAbsolute(plan.model.source) ? plan.model.source : resolve(baseDir, plan.model.source);
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new Error(`cannot read the plan's model ${path}: ${errorMessage(err)}`);
    }
  }

  /**
   * Runs the plan with this id (the CLI's id for a plan file): a plan of that
   * id already on disk is continued, after destroying the containers a dead
   * run left behind; experiments with a registered result are skipped, so
   * running the same plan again never registers a configuration twice.
   */
  async startOrContinue(
    planId: string,
    plan: Plan,
    modelText: string,
  ): Promise<{ plan_id: string; experiments: ExperimentConfig[]; resumed: boolean }> {
    if (this.#running.has(planId)) throw new Error(`plan ${planId} is already running in this host`);
    const previous = this.#read(planId);
    if (!previous) {
      const started = await this.start(plan, modelText, { planId, owner: 'cli' });
      return { ...started, resumed: false };
    }
    await this.#destroyContainersOf(planId);
    const experiments = expandPlan(plan, planId);
    // Its zygote imports what the experiment type needs (SALib for Sobol…) before any kernel.
    this.#deps.containers.warm(plan.runtime, { creates: experiments.length, experiment: plan.experiment });
    const file: PlanFile = { ...previous, plan, model_text: modelText, status: 'running', owner: 'cli' };
    this.#write(file);
    this.#launch(file, experiments);
    return { plan_id: planId, experiments, resumed: true };
  }

  /**
   * Checks the plan against its model (translating it once into the shared
   * cache), then starts it. A model that does not translate or an experiment
   * the model cannot run rejects here, before any container is started.
   */
  async start(
    plan: Plan,
    modelText: string,
    options: { planId?: string; owner?: 'cli' } = {},
  ): Promise<{ plan_id: string; experiments: ExperimentConfig[] }> {
    const planId =
      options.planId ??
      `plan-${new Date().toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(4).toString('hex')}`;
    const owner = options.owner;
    const experiments = expandPlan(plan, planId);
    // The runtime gets ready (kernel zygote, warm pool) while the model is checked in its sandbox;
    // its zygote imports what the experiment type needs (SALib for Sobol…) before any kernel.
    this.#deps.containers.warm(plan.runtime, { creates: experiments.length, experiment: plan.experiment });
    await checkPlanModel({
      home: this.#home,
      plan,
      modelText,
      experiments: experiments.map((e) => e.experiment),
      zygote: await this.#deps.containers.checkZygote(plan.runtime),
    });
    const file: PlanFile = {
      plan_id: planId,
      plan,
      model_text: modelText,
      status: 'running',
      created_at: new Date().toISOString(),
      ...(owner ? { owner } : {}),
    };
    this.#write(file);
    this.#launch(file, experiments);
    return { plan_id: planId, experiments };
  }

  wait(planId: string): Promise<PlanSummary> {
    const running = this.#running.get(planId);
    if (!running) throw new Error(`plan ${planId} is not running in this host`);
    return running.done;
  }

  onProgress(planId: string, listener: (p: PlanProgress) => void): () => void {
    const running = this.#running.get(planId);
    if (!running) return () => undefined;
    running.listeners.add(listener);
    return () => running.listeners.delete(listener);
  }

  /** Progress of every plan run by this host, as it happens; returns the unsubscribe function. */
  watch(listener: (p: PlanProgress) => void): () => void {
    this.#watchers.add(listener);
    return () => this.#watchers.delete(listener);
  }

  /** Plans on disk, newest first (finished and cancelled ones too). */
  list(): StoredPlan[] {
    const out: StoredPlan[] = [];
    for (const name of readdirSync(this.#dir)) {
      if (!name.endsWith('.json')) continue;
      try {
        out.push(this.#stored(JSON.parse(readFileSync(join(this.#dir, name), 'utf8')) as PlanFile));
      } catch {
        // a plan file being replaced: skip it this time
      }
    }
    return out.sort((a, b) => b.created_at.localeCompare(a.created_at));
  }

  /** One stored plan, or null. */
  get(planId: string): StoredPlan | null {
    if (!/^[\w-]{1,100}$/.test(planId)) return null;
    try {
      return this.#stored(JSON.parse(readFileSync(join(this.#dir, `${planId}.json`), 'utf8')) as PlanFile);
    } catch {
      return null;
    }
  }

  /** A plan file as list() and get() show it: with whether it runs here now and its last progress. */
  #stored(f: PlanFile): StoredPlan {
    return {
      plan_id: f.plan_id,
      plan: f.plan,
      status: f.status,
      created_at: f.created_at,
      live: this.#running.has(f.plan_id),
      progress: this.#lastProgress.get(f.plan_id) ?? null,
    };
  }

  cancel(planId: string): boolean {
    const running = this.#running.get(planId);
    if (!running) return false;
    running.controller.abort(new Error('the plan was cancelled'));
    return true;
  }

  /**
   * After a host restart: containers of unfinished plans are destroyed (their
   * host is gone), then those plans continue; experiments already registered
   * are skipped, so nothing is run or registered twice.
   */
  async resumeAll(): Promise<string[]> {
    const resumed: string[] = [];
    for (const name of readdirSync(this.#dir)) {
      if (!name.endsWith('.json')) continue;
      const file = this.#read(name.slice(0, -'.json'.length));
      // A `peragus run` plan is continued by running its plan file again, not here.
      if (file?.status !== 'running' || file.owner === 'cli' || this.#running.has(file.plan_id)) continue;
      await this.#destroyContainersOf(file.plan_id);
      this.#launch(file, expandPlan(file.plan, file.plan_id));
      resumed.push(file.plan_id);
    }
    return resumed;
  }

  async close(): Promise<void> {
    for (const r of this.#running.values()) r.controller.abort(new Error('the host is shutting down'));
    await Promise.allSettled([...this.#running.values()].map((r) => r.done));
  }

  /** Containers a dead run of the plan left behind (their host is gone). */
  async #destroyContainersOf(planId: string): Promise<void> {
    const orphans = await this.#deps.containers.list({ plan: planId });
    for (const c of orphans) await this.#deps.containers.destroy(c.container_id).catch(() => undefined);
  }

  /** A plan's state file, or null when there is none (or it is unreadable: reported, skipped). */
  #read(planId: string): PlanFile | null {
    const path = join(this.#dir, `${planId}.json`);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return null;
    }
    try {
      return JSON.parse(text) as PlanFile;
    } catch (err) {
      this.#log.warn(`peragus: ignoring unreadable plan state ${path}: ${errorMessage(err)}`);
      return null;
    }
  }

  /** Atomic, and never leaves a temp file behind (e.g. on ENOSPC). */
  #write(file: PlanFile): void {
    // Slack and in-place fallback: a full disk never leaves a plan marked "running".
    writeStateFile(join(this.#dir, `${file.plan_id}.json`), JSON.stringify(file), {
      slack: 256,
      inPlaceWhenFull: true,
    });
  }

  #launch(file: PlanFile, experiments: ExperimentConfig[]): void {
    const controller = new AbortController();
    // Each experiment listens once for its attempt and once for the one it prepares, and up to
    // 2 × K are under way (K running, K registering): 4 × K listeners are the plan's own, not a
    // leak (Node warns past 10).
    setMaxListeners(Math.max(10, 4 * file.plan.parallel_limit + 2), controller.signal);
    const listeners = new Set<(p: PlanProgress) => void>();
    const done = this.#run(file, experiments, controller.signal, listeners).finally(() =>
      this.#running.delete(file.plan_id),
    );
    this.#running.set(file.plan_id, { controller, done, listeners });
    done.catch(() => undefined);
  }

  async #run(
    file: PlanFile,
    experiments: ExperimentConfig[],
    signal: AbortSignal,
    listeners: Set<(p: PlanProgress) => void>,
  ): Promise<PlanSummary> {
    const started = Date.now();
    const outcomes: ExperimentOutcome[] = [];
    const total = experiments.length;
    const emit = (p: Omit<PlanProgress, 'plan_id' | 'total' | 'done'>) => {
      const progress = { plan_id: file.plan_id, total, done: outcomes.length, ...p };
      this.#lastProgress.set(file.plan_id, progress);
      for (const l of [...listeners, ...this.#watchers]) l(progress);
    };
    // What this plan's earlier runs registered, read once: only this run registers its
    // experiments now, and registerResult refuses a second result anyway.
    const before = await this.#deps.catalog.getPlanStates(file.plan_id);
    const doneBefore = (id: string) => alreadyDone(before.get(id));
    const queue = [...experiments];
    // Slots: an experiment holds one of the K from its turn until its run is over; its export,
    // copy-out, registration and teardown (no kernel time, mostly waiting on the disk) go on
    // while the slot runs the next experiment. A retry takes a slot again.
    // Look-ahead: when an experiment's run starts, the next queued one is prepared (container,
    // notebook, model loaded), so a slot goes from one run to the next with nothing in between.
    // Prepared experiments wait here in queue order and go to whichever slot is free first: one
    // that finished early never idles while a prepared experiment waits behind a long run.
    const slots = new Slots(Math.max(1, Math.min(file.plan.parallel_limit, experiments.length)));
    const ready: { config: ExperimentConfig; prepared: Promise<PreparedExperiment | undefined> }[] = [];
    const teardowns: Promise<void>[] = [];
    const runExperiment = async (
      config: ExperimentConfig,
      prepared: Promise<PreparedExperiment | undefined> | undefined,
    ) => {
      let holding = true;
      const releaseSlot = () => {
        if (!holding) return;
        holding = false;
        slots.release();
      };
      let asked = false; // one preparation per experiment, also when it is retried
      try {
        const outcome = await this.#runOne(
          {
            file,
            config,
            planSignal: signal,
            onStep: (message, step, attempt) =>
              emit({ experiment_id: config.experiment_id, message, step, attempt }),
            deferTeardown: (t) => teardowns.push(t),
            doneBefore: doneBefore(config.experiment_id),
            holdSlot: async () => {
              if (holding) return;
              await slots.acquire();
              holding = true;
            },
            releaseSlot,
          },
          prepared,
          () => {
            if (asked || signal.aborted) return;
            asked = true;
            const upcoming = queue.shift();
            if (!upcoming) return;
            const ahead = doneBefore(upcoming.experiment_id)
              ? Promise.resolve(undefined)
              : this.#prepare(file, upcoming, signal);
            ahead.catch(() => undefined); // handled where it is used (its attempt fails, then retries)
            ready.push({ config: upcoming, prepared: ahead });
          },
        );
        outcomes.push(outcome);
        emit({
          experiment_id: config.experiment_id,
          message: `${config.experiment_id} ${outcome.status}`,
          step: outcome.status,
        });
      } finally {
        releaseSlot();
      }
    };
    const running: Promise<void>[] = [];
    for (;;) {
      await slots.acquire();
      const taken = ready.shift();
      const config = taken?.config ?? queue.shift();
      if (!config) {
        slots.release();
        break;
      }
      running.push(runExperiment(config, taken?.prepared));
    }
    await Promise.all(running);
    await Promise.all(teardowns);
    const status = signal.aborted ? 'cancelled' : 'finished';
    this.#write({ ...file, status });
    outcomes.sort((a, b) => a.experiment_id.localeCompare(b.experiment_id));
    return {
      plan_id: file.plan_id,
      status,
      total,
      finished: outcomes.filter((o) => o.status === 'finished' || o.status === 'skipped').length,
      failed: outcomes.filter((o) => o.status === 'failed').length,
      wall_ms: Date.now() - started,
      experiments: outcomes,
    };
  }

  /** Prepares an experiment ahead of its turn. */
  #prepare(file: PlanFile, config: ExperimentConfig, signal: AbortSignal): Promise<PreparedExperiment> {
    return prepareExperiment(
      this.#deps,
      { planId: file.plan_id, plan: file.plan, config, modelText: file.model_text },
      signal,
    );
  }

  async #runOne(
    run: OneRun,
    prepared?: Promise<PreparedExperiment | undefined>,
    onRunStart?: () => void,
  ): Promise<ExperimentOutcome> {
    let ahead = prepared;
    try {
      return await this.#attempts(
        run,
        () => {
          const c = ahead;
          ahead = undefined;
          return c;
        },
        onRunStart,
      );
    } finally {
      // A container prepared ahead but never used (skipped, cancelled) is removed.
      if (ahead) {
        const unused = ahead.then((p) =>
          p ? this.#deps.containers.destroy(p.created.container_id) : undefined,
        );
        run.deferTeardown(
          unused.then(
            () => undefined,
            () => undefined,
          ),
        );
      }
    }
  }

  async #attempts(
    run: OneRun,
    takePrepared: () => Promise<PreparedExperiment | undefined> | undefined,
    onRunStart?: () => void,
  ): Promise<ExperimentOutcome> {
    const { file, config, planSignal, onStep, deferTeardown, holdSlot, releaseSlot } = run;
    const started = Date.now();
    const base = { experiment_id: config.experiment_id, fixed: config.fixed };
    const finished = (attempt: number, computeMs: number): ExperimentOutcome => ({
      ...base,
      status: 'finished',
      attempts: attempt,
      duration_ms: Date.now() - started,
      compute_ms: computeMs,
    });
    if (run.doneBefore) return { ...base, status: 'skipped', attempts: 0, duration_ms: 0, compute_ms: 0 };
    let lastError = '';
    const attempts = file.plan.retries + 1;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (planSignal.aborted) break;
      await holdSlot();
      if (planSignal.aborted) break;
      const controller = new AbortController();
      const timer = setTimeout(
        () => controller.abort(new Error(`timed out after ${file.plan.timeout_ms} ms`)),
        file.plan.timeout_ms,
      );
      const onPlanAbort = () => controller.abort(planSignal.reason);
      planSignal.addEventListener('abort', onPlanAbort);
      const mine: Promise<void>[] = [];
      const ahead = takePrepared();
      const lifecycle = runExperimentLifecycle(this.#deps, {
        ...(ahead
          ? {
              prepared: ahead.then((p) => {
                if (!p) throw new Error('the experiment prepared ahead was not made');
                return p;
              }),
            }
          : {}),
        ...(onRunStart ? { onRunStart } : {}),
        onRunDone: releaseSlot,
        planId: file.plan_id,
        plan: file.plan,
        config,
        modelText: file.model_text,
        signal: controller.signal,
        onStep: (s) => onStep(`${config.experiment_id}: ${s} (attempt ${attempt})`, s, attempt),
        deferTeardown: (t) => {
          mine.push(t);
          deferTeardown(t);
        },
      });
      try {
        const done = await Promise.race([
          lifecycle,
          new Promise<never>((_, reject) => {
            controller.signal.addEventListener('abort', () => reject(controller.signal.reason), {
              once: true,
            });
          }),
        ]);
        return finished(attempt, done.compute_ms);
      } catch (err) {
        lastError = errorMessage(err);
        // Before a retry, the failed attempt's container must be gone (one per experiment id).
        await Promise.race([lifecycle.catch(() => undefined), new Promise((r) => setTimeout(r, 30_000))]);
        await Promise.all(mine);
        // A result may have been registered before the failure (e.g. in teardown): never redo it.
        const now = await this.#deps.catalog.getExperimentState(config.experiment_id).catch(() => null);
        if (alreadyDone(now)) return finished(attempt, 0);
      } finally {
        clearTimeout(timer);
        planSignal.removeEventListener('abort', onPlanAbort);
      }
    }
    const cancelled = planSignal.aborted;
    await this.#deps.catalog
      .upsertExperiment({
        experiment_id: config.experiment_id,
        plan_id: file.plan_id,
        status: cancelled ? 'cancelled' : 'failed',
        error: lastError || 'cancelled',
        finished_at: new Date().toISOString(),
      })
      .catch(() => undefined);
    return {
      ...base,
      status: cancelled ? 'cancelled' : 'failed',
      attempts,
      error: lastError,
      duration_ms: Date.now() - started,
      compute_ms: 0,
    };
  }
}

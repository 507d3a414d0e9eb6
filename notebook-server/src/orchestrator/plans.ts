// Plans: checked against their model, expanded and run (plan-run.ts: K at once, per-experiment
// timeouts, retries that never duplicate a registered result), with their state on disk so a
// restarted host resumes unfinished plans (and cleans containers the dead host left behind).
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { errorMessage } from '../catalog/errors.ts';
import { createLogger, type Logger } from '../log/index.ts';
import { writeStateFile } from '../runtime/state-file.ts';
import { type Plan, PlanInput } from '../schemas/plan.ts';
import type { LifecycleDeps } from './lifecycle.ts';
import { checkPlanModel } from './plan-check.ts';
import { checkPlan, type ExperimentConfig, expandPlan } from './plan-expand.ts';
import { type PlanProgress, type PlanSummary, runPlan } from './plan-run.ts';

export type { ExperimentOutcome, PlanProgress, PlanSummary } from './plan-run.ts';

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
    // Each slot listens once for its running attempt and once for the experiment it prepares:
    // 2 × K listeners are the plan's own, not a leak (Node warns past 10).
    setMaxListeners(Math.max(10, 2 * file.plan.parallel_limit + 2), controller.signal);
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
    const summary = await runPlan(this.#deps, file, experiments, signal, (progress) => {
      this.#lastProgress.set(file.plan_id, progress);
      for (const l of [...listeners, ...this.#watchers]) l(progress);
    });
    this.#write({ ...file, status: summary.status });
    return summary;
  }
}

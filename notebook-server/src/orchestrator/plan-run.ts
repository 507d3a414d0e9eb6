// Runs one plan's experiments: K at once (each slot holds its experiment until it is registered),
// the look-ahead that prepares the next experiment while a run goes on, per-attempt timeouts and
// retries that never redo a registered result. PlanRunner (plans.ts) keeps the
// plans' state on disk and calls this for each run of a plan.
import { errorMessage } from '../catalog/errors.ts';
import type { Plan } from '../schemas/plan.ts';
import {
  type LifecycleDeps,
  type PreparedExperiment,
  prepareExperiment,
  runExperimentLifecycle,
} from './lifecycle.ts';
import type { ExperimentConfig } from './plan-expand.ts';

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

/** What running a plan needs of its stored file. */
export interface RunnablePlan {
  plan_id: string;
  plan: Plan;
  model_text: string;
}

/** One experiment of a running plan, as its attempts see it. */
interface OneRun {
  file: RunnablePlan;
  config: ExperimentConfig;
  planSignal: AbortSignal;
  onStep: (message: string, step: string, attempt: number) => void;
  deferTeardown: (teardown: Promise<void>) => void;
  /** Its result was registered before this run of the plan began: it is skipped. */
  doneBefore: boolean;
}

/** A catalog record that already holds this experiment's result: the plan never redoes it. */
function alreadyDone(record: { status: string; result_digest: string | null } | null | undefined): boolean {
  return record?.status === 'finished' && Boolean(record.result_digest);
}

export async function runPlan(
  deps: LifecycleDeps,
  file: RunnablePlan,
  experiments: ExperimentConfig[],
  signal: AbortSignal,
  report: (progress: PlanProgress) => void,
): Promise<PlanSummary> {
  const started = Date.now();
  const outcomes: ExperimentOutcome[] = [];
  const total = experiments.length;
  const emit = (p: Omit<PlanProgress, 'plan_id' | 'total' | 'done'>) =>
    report({ plan_id: file.plan_id, total, done: outcomes.length, ...p });
  // What this plan's earlier runs registered, read once: only this run registers its
  // experiments now, and registerResult refuses a second result anyway.
  const before = await deps.catalog.getPlanStates(file.plan_id);
  const doneBefore = (id: string) => alreadyDone(before.get(id));
  const queue = [...experiments];
  // Look-ahead: when an experiment's run starts, its slot prepares the next queued one
  // (container, notebook, model loaded), so a slot goes from one run to the next with nothing in
  // between (teardowns are deferred too). Prepared experiments wait here in queue order and go to
  // whichever slot is free first: one that finished early never idles while a prepared
  // experiment waits behind a long run. A slot is held until its experiment is registered: at
  // most K experiments are under way, as K promises (releasing it at the end of the run bought
  // nothing at K = 2 here: the plan is CPU-bound; docs/DECISIONS.md).
  const ready: { config: ExperimentConfig; prepared: Promise<PreparedExperiment | undefined> }[] = [];
  const teardowns: Promise<void>[] = [];
  const worker = async () => {
    for (;;) {
      const taken = ready.shift();
      const config = taken?.config ?? queue.shift();
      if (!config) return;
      let asked = false; // one preparation per experiment, also when it is retried
      const outcome = await runOne(
        deps,
        {
          file,
          config,
          planSignal: signal,
          onStep: (message, step, attempt) =>
            emit({ experiment_id: config.experiment_id, message, step, attempt }),
          deferTeardown: (t) => teardowns.push(t),
          doneBefore: doneBefore(config.experiment_id),
        },
        taken?.prepared,
        () => {
          if (asked || signal.aborted) return;
          asked = true;
          const upcoming = queue.shift();
          if (!upcoming) return;
          const ahead = doneBefore(upcoming.experiment_id)
            ? Promise.resolve(undefined)
            : prepare(deps, file, upcoming, signal);
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
    }
  };
  const k = Math.min(file.plan.parallel_limit, experiments.length);
  await Promise.all(Array.from({ length: k }, worker));
  await Promise.all(teardowns);
  const status = signal.aborted ? 'cancelled' : 'finished';
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
function prepare(
  deps: LifecycleDeps,
  file: RunnablePlan,
  config: ExperimentConfig,
  signal: AbortSignal,
): Promise<PreparedExperiment> {
  return prepareExperiment(
    deps,
    { planId: file.plan_id, plan: file.plan, config, modelText: file.model_text },
    signal,
  );
}

async function runOne(
  deps: LifecycleDeps,
  run: OneRun,
  prepared?: Promise<PreparedExperiment | undefined>,
  onRunStart?: () => void,
): Promise<ExperimentOutcome> {
  let ahead = prepared;
  try {
    return await attempts(
      deps,
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
      const unused = ahead.then((p) => (p ? deps.containers.destroy(p.created.container_id) : undefined));
      run.deferTeardown(
        unused.then(
          () => undefined,
          () => undefined,
        ),
      );
    }
  }
}

async function attempts(
  deps: LifecycleDeps,
  run: OneRun,
  takePrepared: () => Promise<PreparedExperiment | undefined> | undefined,
  onRunStart?: () => void,
): Promise<ExperimentOutcome> {
  const { file, config, planSignal, onStep, deferTeardown } = run;
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
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new Error(`timed out after ${file.plan.timeout_ms} ms`)),
      file.plan.timeout_ms,
    );
    const onPlanAbort = () => controller.abort(planSignal.reason);
    planSignal.addEventListener('abort', onPlanAbort);
    const mine: Promise<void>[] = [];
    const ahead = takePrepared();
    const lifecycle = runExperimentLifecycle(deps, {
      ...(ahead
        ? {
            prepared: ahead.then((p) => {
              if (!p) throw new Error('the experiment prepared ahead was not made');
              return p;
            }),
          }
        : {}),
      ...(onRunStart ? { onRunStart } : {}),
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
      const now = await deps.catalog.getExperimentState(config.experiment_id).catch(() => null);
      if (alreadyDone(now)) return finished(attempt, 0);
    } finally {
      clearTimeout(timer);
      planSignal.removeEventListener('abort', onPlanAbort);
    }
  }
  const cancelled = planSignal.aborted;
  await deps.catalog
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

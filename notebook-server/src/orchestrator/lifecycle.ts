// One experiment of a plan, end to end, through the same tools an agent uses:
// provision → notebook → load model → run → export srcmd → copy artifacts out
// (into the store's staging folder) → register in the catalog → destroy. Idempotent by experiment id: a
// finished experiment is never run or registered twice.
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { basename } from 'node:path';
import type { PartialArtifactRef } from '../artifacts/index.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { ContainerSpec, CreateResult } from '../runtime/types.ts';
import type { Plan } from '../schemas/plan.ts';
import { Experiment } from '../schemas/pysd-tools.ts';
import type { ContainerService } from './containers.ts';
import type { ExperimentConfig } from './plan-expand.ts';
import type { ContainerRouter } from './router.ts';

export interface LifecycleDeps {
  containers: ContainerService;
  router: ContainerRouter;
  catalog: Catalog;
}

export interface LifecycleInput {
  planId: string;
  plan: Plan;
  config: ExperimentConfig;
  modelText: string;
  signal: AbortSignal;
  onStep?: (step: string) => void;
  /**
   * Receives the container's teardown instead of awaiting it here: the result
   * is registered by then, so the plan's slot can start the next experiment
   * while this container stops (the runner awaits all teardowns at the end).
   */
  deferTeardown?: (teardown: Promise<void>) => void;
  /**
   * This experiment's container, already provisioned with its notebook open and its model
   * loaded (PlanRunner's look-ahead, prepareExperiment): the lifecycle starts at the run.
   */
  prepared?: Promise<PreparedExperiment>;
  /** Called when the run starts: the slot's next experiment can be prepared meanwhile. */
  onRunStart?: () => void;
}

/** An experiment's notebook session, open with the plan's model loaded. */
interface OpenSession {
  session_id: string;
  model_id: string;
  /** The model-load cell's time (part of the experiment's compute_ms). */
  load_ms: number;
}

/** An experiment's container with its session open (prepared ahead of its turn). */
export interface PreparedExperiment extends OpenSession {
  created: CreateResult;
}

/**
 * Destroys the container when `signal` aborts, also when it already has (a listener added
 * then would never fire). Returns the listener's removal.
 */
function destroyOnAbort(containers: ContainerService, containerId: string, signal: AbortSignal): () => void {
  const destroy = () => void containers.destroy(containerId).catch(() => undefined);
  signal.addEventListener('abort', destroy);
  if (signal.aborted) destroy();
  return () => signal.removeEventListener('abort', destroy);
}

/** Copies the model into the container, opens the experiment's notebook and loads the model there. */
async function openSession(
  deps: LifecycleDeps,
  containerId: string,
  input: Pick<LifecycleInput, 'plan' | 'config' | 'modelText'>,
  step: (s: string) => void,
): Promise<OpenSession> {
  const { plan, config } = input;
  const modelPath = `models/${basename(plan.model.source)}`;
  await deps.containers.runtimeOf(containerId).cpIn(containerId, modelPath, { content: input.modelText });
  step('notebook');
  const nb = await deps.router.call(containerId, 'notebook_create', { name: config.experiment_id });
  step('load');
  const loaded = await deps.router.call(containerId, 'pysd_model_load', {
    session_id: nb.session_id,
    source: modelPath,
    ...(plan.model.format ? { format: plan.model.format } : {}),
  });
  return { session_id: nb.session_id, model_id: loaded.model_id, load_ms: loaded.duration_ms ?? 0 };
}

/**
 * Provisions an experiment's container and opens its session ahead of its turn (the plan's
 * look-ahead), so the slot goes from one experiment's run to the next one's with nothing in
 * between. A container whose session cannot be opened is removed; the error is the attempt's.
 */
export async function prepareExperiment(
  deps: LifecycleDeps,
  input: Pick<LifecycleInput, 'planId' | 'plan' | 'config' | 'modelText'>,
  signal: AbortSignal,
): Promise<PreparedExperiment> {
  const created = await deps.containers.create(
    containerSpecFor(input.planId, input.plan, input.config),
    input.plan.runtime,
  );
  const cid = created.container_id;
  // The plan cancelled meanwhile: the container goes now, and the calls still open fail fast.
  const stopWatching = destroyOnAbort(deps.containers, cid, signal);
  try {
    if (signal.aborted) throw signal.reason ?? new Error('the plan was cancelled');
    return { created, ...(await openSession(deps, cid, input, () => undefined)) };
  } catch (err) {
    await deps.containers.destroy(cid).catch(() => undefined);
    throw err;
  } finally {
    stopWatching();
  }
}

/** The container spec of one plan experiment. */
export function containerSpecFor(planId: string, plan: Plan, config: ExperimentConfig): ContainerSpec {
  return {
    experiment_id: config.experiment_id,
    labels: { plan: planId },
    // Registered (flushed) in the catalog when done, rerun from the start after a crash.
    scratch: true,
    ...(plan.resources ? { resources: plan.resources } : {}),
  };
}

/** Numeric metrics from a run summary: {name: number} kept, nested objects flattened with ".". */
export function flattenMetrics(
  value: unknown,
  prefix = '',
  out: Record<string, number> = {},
): Record<string, number> {
  if (typeof value === 'number' && Number.isFinite(value)) {
    if (prefix) out[prefix] = value;
  } else if (Array.isArray(value)) {
    if (value.length === 1) flattenMetrics(value[0], prefix, out);
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) flattenMetrics(v, prefix ? `${prefix}.${k}` : k, out);
  }
  return out;
}

export interface LifecycleResult {
  /** Time the kernel spent in the model-load and run cells. */
  compute_ms: number;
}

export async function runExperimentLifecycle(
  deps: LifecycleDeps,
  input: LifecycleInput,
): Promise<LifecycleResult> {
  const { containers, router, catalog } = deps;
  const { plan, config, planId, signal } = input;
  const step = (s: string) => input.onStep?.(s);
  const startedAt = new Date().toISOString();
  const modelSha = createHash('sha256').update(input.modelText).digest('hex');
  await catalog.upsertExperiment({
    experiment_id: config.experiment_id,
    plan_id: planId,
    status: 'running',
    config: { ...config.experiment, fixed: config.fixed },
    model_sha256: modelSha,
    started_at: startedAt,
  });
  step('provision');
  const prepared = input.prepared ? await input.prepared : undefined;
  const created =
    prepared?.created ?? (await containers.create(containerSpecFor(planId, plan, config), plan.runtime));
  const cid = created.container_id;
  const stopWatching = destroyOnAbort(containers, cid, signal);
  try {
    const rt = containers.runtimeOf(cid);
    const session = prepared ?? (await openSession(deps, cid, input, step));
    const sessionId = session.session_id;
    // Checked by the node's tool schema too; parsed here so the call is typed.
    const parsed = Experiment.safeParse(config.experiment);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${['experiment', ...i.path].join('.')}: ${i.message}`);
      throw new Error(`invalid experiment: ${issues.join('; ')}`);
    }
    const experiment = parsed.data;
    step('run');
    const running = router.call(cid, 'pysd_experiment_run', {
      session_id: sessionId,
      model_id: session.model_id,
      experiment,
      output_format: plan.output_format,
    });
    input.onRunStart?.();
    const ran = await running;
    const runCount = Number(ran.run_count ?? 0);
    if (runCount > 0 && Number(ran.failed_runs ?? 0) >= runCount) {
      const first = (ran.errors as { error?: string }[] | undefined)?.[0]?.error ?? 'no error message';
      throw new Error(`every run of the experiment failed (${runCount} of ${runCount}): ${first}`);
    }
    step('export');
    const exported = await router.call(cid, 'notebook_export', { session_id: sessionId, format: 'srcmd' });
    step('register');
    const refs: PartialArtifactRef[] = [...ran.artifacts, ...exported.artifacts];
    const artifacts = [];
    // Each artifact is copied once, out of the experiment into the store's staging folder, and
    // the store adopts that copy (a link): no second copy, no folder tree per experiment.
    const staged: string[] = [];
    try {
      for (const ref of refs) {
        const dest = catalog.store.stagingPath();
        staged.push(dest);
        const out = await rt.cpOut(cid, ref.path, dest);
        // The tool's word and the bytes that arrived must agree (a node on another machine could lie).
        if (ref.sha256 && ref.sha256 !== out.sha256) {
          throw new Error(
            `artifact ${ref.path}: the tool reported sha256 ${ref.sha256} but the copy has ${out.sha256}; refused`,
          );
        }
        artifacts.push({
          path: out.path,
          name: ref.path,
          sha256: ref.sha256 ?? out.sha256,
          ...(ref.media_type ? { media_type: ref.media_type } : {}),
        });
      }
      const seed = (config.experiment as { seed?: unknown }).seed;
      await catalog.registerResult(
        {
          experiment_id: config.experiment_id,
          plan_id: planId,
          container_id: cid,
          ...(created.node ? { node: created.node } : {}),
          session_id: sessionId,
          artifacts,
          metrics: flattenMetrics(ran.metrics),
          image_digest: created.image_id,
          ...(typeof seed === 'number' ? { seeds: seed } : {}),
          started_at: startedAt,
          finished_at: new Date().toISOString(),
          status: 'finished',
        },
        { adoptFiles: true },
      );
    } finally {
      // The store holds its own link to each adopted file; the staging names go.
      for (const path of staged) rmSync(path, { force: true });
    }
    return { compute_ms: session.load_ms + (ran.duration_ms ?? 0) };
  } finally {
    stopWatching();
    step('teardown');
    const teardown = containers.destroy(cid).then(
      () => undefined,
      () => undefined,
    );
    if (input.deferTeardown) input.deferTeardown(teardown);
    else await teardown;
  }
}

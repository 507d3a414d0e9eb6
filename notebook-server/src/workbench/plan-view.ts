// What the plan view shows: one tile per experiment of a plan, from the plan
// file (the experiments it expands to), the catalog (status, error, metrics:
// these outlive containers and the host) and, while this host runs it, the
// live lifecycle step and the kernel's progress of each experiment.
import type { Catalog } from '../catalog/catalog.ts';
import type { EventBus } from '../notebook/events.ts';
import { expandPlan } from '../orchestrator/plan-expand.ts';
import type { PlanRunner, StoredPlan } from '../orchestrator/plans.ts';
import { axisValues } from '../schemas/plan.ts';
import { notFound } from './errors.ts';

export type TileState =
  | 'queued'
  | 'provisioning'
  | 'running'
  | 'finishing'
  | 'finished'
  | 'failed'
  | 'cancelled'
  | 'interrupted'
  | 'not run';

export interface Tile {
  experiment_id: string;
  index: number;
  fixed: Record<string, string | number | boolean>;
  state: TileState;
  step: string | null;
  attempt: number | null;
  error: string | null;
  started_at: string | null;
  finished_at: string | null;
  progress: { progress: number; total: number | null; message: string | null } | null;
  metrics: Record<string, number | null>;
}

export interface PlanView {
  plan_id: string;
  name: string;
  status: StoredPlan['status'];
  live: boolean;
  progress: StoredPlan['progress'];
  created_at: string;
  experiment_type: string;
  model: string;
  parallel_limit: number;
  grid: Record<string, unknown[]> | null;
  targets: Record<string, unknown>[] | null;
  experiment: Record<string, unknown>;
  total: number;
  counts: Record<TileState, number>;
  elapsed_ms: number;
  /** Estimated time left (null until an experiment finished, or when not running). */
  eta_ms: number | null;
  experiments: Tile[];
}

const STEP_STATE: Record<string, TileState> = {
  provision: 'provisioning',
  notebook: 'running',
  load: 'running',
  run: 'running',
  export: 'finishing',
  register: 'finishing',
  teardown: 'finishing',
};

interface Live {
  step: string;
  attempt: number | null;
}

export class PlanWatch {
  readonly #steps = new Map<string, Live>();
  readonly #progress = new Map<string, Tile['progress']>();
  readonly #off: (() => void)[] = [];

  readonly #plans: PlanRunner;
  readonly #catalog: Catalog;
  constructor(plans: PlanRunner, catalog: Catalog, events: EventBus) {
    this.#plans = plans;
    this.#catalog = catalog;
    this.#off.push(
      plans.watch((p) => {
        if (p.experiment_id && p.step)
          this.#steps.set(p.experiment_id, { step: p.step, attempt: p.attempt ?? null });
      }),
      events.subscribe((e) => {
        if (e.type === 'experiment.progress') {
          this.#progress.set(e.experiment_id, {
            progress: e.progress,
            total: e.total ?? null,
            message: e.message ?? null,
          });
        }
      }),
    );
  }

  close(): void {
    for (const off of this.#off) off();
  }

  list(): StoredPlan[] {
    return this.#plans.list();
  }

  async view(planId: string): Promise<PlanView> {
    const stored = this.#plans.get(planId);
    if (!stored) throw notFound(`no plan "${planId}"`);
    const configs = expandPlan(stored.plan, stored.plan_id);
    const { experiments: rows } = await this.#catalog.listExperiments({ plan_id: planId, limit: 10_000 });
    const byId = new Map(rows.map((r) => [r.experiment_id, r]));
    const counts = Object.fromEntries(
      [
        'queued',
        'provisioning',
        'running',
        'finishing',
        'finished',
        'failed',
        'cancelled',
        'interrupted',
        'not run',
      ].map((s) => [s, 0]),
    ) as Record<TileState, number>;
    let firstStart = Number.POSITIVE_INFINITY;
    const tiles = configs.map((c): Tile => {
      const row = byId.get(c.experiment_id);
      const live = this.#steps.get(c.experiment_id);
      let state: TileState;
      if (!row) state = stored.live ? 'queued' : 'not run';
      else if (row.status === 'running' || row.status === 'queued') {
        state = stored.live ? (STEP_STATE[live?.step ?? ''] ?? 'provisioning') : 'interrupted';
      } else state = row.status as TileState;
      counts[state]++;
      if (row?.started_at) firstStart = Math.min(firstStart, Date.parse(row.started_at));
      return {
        experiment_id: c.experiment_id,
        index: c.index,
        fixed: c.fixed,
        state,
        step:
          state === 'running' || state === 'provisioning' || state === 'finishing'
            ? (live?.step ?? null)
            : null,
        attempt: live?.attempt ?? null,
        error: row?.error ?? null,
        started_at: row?.started_at ?? null,
        finished_at: row?.finished_at ?? null,
        progress: state === 'running' ? (this.#progress.get(c.experiment_id) ?? null) : null,
        metrics: row?.metrics ?? {},
      };
    });
    const start = Number.isFinite(firstStart) ? firstStart : Date.parse(stored.created_at);
    const ends = rows.map((r) => (r.finished_at ? Date.parse(r.finished_at) : 0));
    const end = stored.live ? Date.now() : Math.max(start, ...ends);
    const done = counts.finished + counts.failed + counts.cancelled;
    const elapsed = Math.max(0, end - start);
    const left = configs.length - done;
    return {
      plan_id: stored.plan_id,
      name: stored.plan.name ?? stored.plan_id,
      status: stored.status,
      live: stored.live,
      // The latest progress this host saw (agents' and `peragus run`'s plans too), or null.
      progress: stored.progress,
      created_at: stored.created_at,
      experiment_type: String((stored.plan.experiment as { type?: unknown }).type ?? ''),
      model: stored.plan.model.source,
      parallel_limit: stored.plan.parallel_limit,
      grid: stored.plan.grid
        ? Object.fromEntries(Object.entries(stored.plan.grid).map(([k, axis]) => [k, axisValues(axis)]))
        : null,
      targets: stored.plan.targets ?? null,
      experiment: stored.plan.experiment as Record<string, unknown>,
      total: configs.length,
      counts,
      elapsed_ms: elapsed,
      eta_ms: stored.live && done > 0 && left > 0 ? Math.round((elapsed / done) * left) : null,
      experiments: tiles,
    };
  }
}

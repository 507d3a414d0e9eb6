// Runs one plan on a fresh host in a new home, with some environment set for
// the host's lifetime, and reads back the runs.parquet digests the catalog
// registered: how the fast-path and warm-pool tests compare two ways of
// running the same plan.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHost, type Host } from '../../notebook-server/src/app/host.ts';
import { REPO } from './sd-models.ts';

/** A 2 × 20-run SIR LHS plan with fixed seeds: its two runs.parquet files differ from each other. */
export function sirLhsPlan(runtime: 'local' | 'docker') {
  return {
    model: { source: join(REPO, 'notebooks/models/sir.mdl') },
    experiment: { type: 'lhs' as const, samples: 20, seed: 11, parameters: { 'Illness Duration': [2, 10] } },
    grid: { 'Contact Rate': [4, 9] },
    parallel_limit: 2,
    runtime,
  };
}

export interface PlanRun {
  finished: number;
  /** runs.parquet of each experiment, by experiment id. */
  rows: { experiment_id: string; sha256: string }[];
  /** The plan's experiment ids, sorted. */
  ids: string[];
  home: string;
}

/** Sets `env` (undefined unsets) around `fn`, then puts every variable back. */
export async function withEnv<T>(env: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  apply(env);
  try {
    return await fn();
  } finally {
    apply(saved);
  }
}

/**
 * The plan on a new host (home under tmp, pushed to `homes` for clean-up); `before` runs once the
 * host is up and before the plan starts, `read` before the host closes.
 */
export function runPlanInNewHome<T>(
  plan: ReturnType<typeof sirLhsPlan>,
  options: {
    env: Record<string, string | undefined>;
    prefix: string;
    homes: string[];
    before?: (host: Host) => Promise<unknown>;
  },
  read: (host: Host) => T | Promise<T>,
): Promise<PlanRun & T> {
  return withEnv(options.env, async () => {
    const home = mkdtempSync(join(tmpdir(), options.prefix));
    options.homes.push(home);
    const host = await createHost({ home, poolSize: 0, resumePlans: false });
    try {
      await options.before?.(host);
      const { plan: prepared } = host.plans.prepare(plan);
      const started = await host.plans.start(prepared, readFileSync(plan.model.source, 'utf8'));
      const summary = await host.plans.wait(started.plan_id);
      const rows = await host.catalog.query(
        `SELECT experiment_id, sha256 FROM artifacts WHERE path LIKE '%runs.parquet' ORDER BY experiment_id`,
      );
      return {
        finished: summary.finished,
        rows: rows.rows as PlanRun['rows'],
        ids: started.experiments.map((e) => e.experiment_id).sort(),
        home,
        ...(await read(host)),
      };
    } finally {
      await host.close();
    }
  });
}

// The fast path (kernels forked by the zygote, the model translated once by
// the plan check and handed to each experiment) gives byte-identical results
// to the slow path (cold kernels, each experiment translating the model
// itself): same seeds → the same Parquet files.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createHost } from '../../notebook-server/src/app/host.ts';
import type { LocalRuntime } from '../../notebook-server/src/runtime/local.ts';
import { REPO } from '../helpers/sd-models.ts';

const PLAN = {
  model: { source: join(REPO, 'notebooks/models/sir.mdl') },
  experiment: { type: 'lhs', samples: 20, seed: 11, parameters: { 'Illness Duration': [2, 10] } },
  grid: { 'Contact Rate': [4, 9] },
  parallel_limit: 2,
  runtime: 'local' as const,
};
const homes: string[] = [];

async function runPlan(
  env: Record<string, string | undefined>,
): Promise<{ digests: string[]; zygote: number | undefined }> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
  const home = mkdtempSync(join(tmpdir(), 'peragus-fastpath-'));
  homes.push(home);
  const host = await createHost({ home, poolSize: 0, resumePlans: false });
  try {
    const { plan } = host.plans.prepare(PLAN);
    const started = await host.plans.start(plan, readFileSync(PLAN.model.source, 'utf8'));
    const summary = await host.plans.wait(started.plan_id);
    expect(summary.finished).toBe(2);
    const rows = await host.catalog.query(
      `SELECT experiment_id, sha256 FROM artifacts WHERE path LIKE '%runs.parquet' ORDER BY experiment_id`,
    );
    const local = host.containers.runtime('local') as LocalRuntime;
    return {
      digests: (rows.rows as { sha256: string }[]).map((r) => r.sha256),
      zygote: await local.zygotePid(),
    };
  } finally {
    await host.close();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

describe('fast path', () => {
  it('gives byte-identical Parquet to the slow path for the same seeds', async () => {
    const fast = await runPlan({ PERAGUS_KERNEL_ZYGOTE: undefined, PERAGUS_PYSD_SHARED_CACHE: undefined });
    const slow = await runPlan({ PERAGUS_KERNEL_ZYGOTE: '0', PERAGUS_PYSD_SHARED_CACHE: '0' });
    expect(fast.zygote).toBeGreaterThan(0);
    expect(slow.zygote).toBeUndefined();
    expect(fast.digests).toHaveLength(2);
    expect(fast.digests[0]).not.toBe(fast.digests[1]);
    expect(slow.digests).toEqual(fast.digests);
  }, 900_000);
});

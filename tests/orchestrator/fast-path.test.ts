// The fast path (kernels forked by the zygote, the model translated once by
// the plan check and handed to each experiment) gives byte-identical results
// to the slow path (cold kernels, each experiment translating the model
// itself): same seeds → the same Parquet files.
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { runPlanInNewHome, sirLhsPlan } from '../helpers/plan-run.ts';

const homes: string[] = [];

async function runPlan(
  env: Record<string, string | undefined>,
): Promise<{ digests: string[]; zygote: number | undefined }> {
  const run = await runPlanInNewHome(
    sirLhsPlan('local'),
    { env, prefix: 'peragus-fastpath-', homes },
    async (host) => ({
      zygote: await host.containers.localRuntime().zygotePid(),
    }),
  );
  expect(run.finished).toBe(2);
  return { digests: run.rows.map((r) => r.sha256), zygote: run.zygote };
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

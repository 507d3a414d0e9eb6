// Prefect 3 as a further peer of plan_small_24 (issue 10), opt-in: its API
// server and a fresh Python process per flow run make one round take minutes,
// so `npm run bench` runs it only when named (`npm run bench -- prefect`).
// PERAGUS_BENCH_PREFECT_RUNS (default 3) interleaved rounds of, in turn:
// - Prefect: the 24 teacup points as 24 flow runs of a deployment on a process
//   work pool, a worker with --limit 2 (bench/peers/prefect_plan.py): from the
//   flow runs' creation to the last one's end, the worker's start included,
//   the API server's not (reported as prefect_server_start);
// - `peragus run` of the same plan, local runtime (as plan_small_24);
// - EMA Workbench's MultiprocessingEvaluator(2), for the same round's scale.
// The Prefect venv is bench/peers/prefect/.venv (scripts/setup-bench.mjs).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type BenchFigure, type BenchSuite, median, r3, versus } from './lib.ts';
import { emaTeacup24, notebookTeacup24, ours, peer, TEACUP, teacupPlan } from './plan-runs.ts';

/** Runs only when named on the command line (bench/run.ts). */
export const optIn = true;

const REPO = resolve(import.meta.dirname, '..');
const PREFECT_PY = join(REPO, 'bench/peers/prefect/.venv/bin/python');
const RUNS = Number(process.env.PERAGUS_BENCH_PREFECT_RUNS ?? 3);
const log = (s: string) => process.stderr.write(`[bench] prefect: ${s} (load ${loadavg()[0]!.toFixed(1)})\n`);

export const suite: BenchSuite = async () => {
  if (!existsSync(PREFECT_PY))
    throw new Error(`no Prefect venv at ${PREFECT_PY}: run node scripts/setup-bench.mjs`);
  if (!existsSync(TEACUP)) throw new Error(`teacup model not found at ${TEACUP}: set PERAGUS_SD_TEST_MODELS`);
  const dir = mkdtempSync(join(tmpdir(), 'prefect-bench-'));
  const prefect: number[] = [];
  const server: number[] = [];
  const local: number[] = [];
  const ema: number[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const work = mkdtempSync(join(dir, 'pf-'));
      const p = await peer('prefect_plan.py', { ...notebookTeacup24, work }, dir, {
        python: PREFECT_PY,
        timeoutMs: 1_800_000,
      });
      const r = JSON.parse(p.out.trim().split('\n').pop() ?? '') as {
        wall_s: number;
        runs: number;
        server_start_s: number;
        failed: number;
      };
      if (r.runs !== 24 || r.failed !== 0)
        throw new Error(
          `Prefect finished ${r.runs} of 24 flow runs (${r.failed} failed): see ${work}/prefect.log`,
        );
      rmSync(work, { recursive: true, force: true });
      prefect.push(r.wall_s);
      server.push(r.server_start_s);
      const l = await ours(teacupPlan(), 'local');
      local.push(l.wall_s);
      const e = await peer('ema_plan.py', emaTeacup24, dir);
      ema.push(e.wall_s);
      log(
        `run ${i + 1}: Prefect ${r.wall_s.toFixed(1)} s (server start ${r.server_start_s.toFixed(1)} s), ` +
          `ours ${l.wall_s.toFixed(1)} s, EMA ${e.wall_s.toFixed(1)} s`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const figures: BenchFigure[] = [
    versus('plan_small_24_vs_prefect', 's', median(local), 'prefect3_process_pool_2', median(prefect), {
      note: `EMA Workbench MP(2) in the same rounds: ${median(ema).toFixed(2)} s`,
    }),
    { name: 'prefect_server_start', value: r3(median(server)), unit: 's' },
  ];
  return figures;
};

// Browser workbench: time to first paint, in headless Chromium against a real
// host, of (1) the plan view of a 200-experiment plan (all tiles drawn) and
// (2) the fan chart of a 10,000-run experiment (bands drawn). Each is the
// median of fresh page loads: navigation start → the element exists, so it
// includes loading the page, the API calls (Arrow for the bands) and drawing.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { PlanInput } from '../notebook-server/src/schemas/plan.ts';
import { hasChromium, startBrowserHost } from '../tests/ui/browser.ts';
import { type BenchFigure, median } from './lib.ts';

const EXPERIMENTS = 200;
const RUNS = 10_000;
const TIMES = 121;
const ROUNDS = 5;

async function writeRuns(file: string, seed: number): Promise<void> {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  await c.run(`COPY (
    SELECT r AS run_id, r * 0.001 AS "Contact Rate", t::DOUBLE AS time,
           10000 / (1 + exp(-(t - 40 - ((r + ${seed}) % 97) * 0.2) / (3 + (r % 13) * 0.3))) AS "Recovered",
           1000 * exp(-((t - 40 - (r % 89) * 0.2) ^ 2) / 200) AS "Infected"
    FROM range(${RUNS}) a(r), range(${TIMES}) b(t)) TO '${file}' (FORMAT parquet)`);
  c.closeSync();
  db.closeSync();
}

export async function suite(): Promise<BenchFigure[]> {
  if (!hasChromium) throw new Error('/usr/bin/chromium is missing: the UI bench needs it');
  const home = mkdtempSync(join(tmpdir(), 'peragus-bench-ui-'));
  const b = await startBrowserHost('bench-ui', home);
  try {
    // A finished 200-experiment plan: its file and its catalog rows (as a plan leaves them).
    const planId = 'plan-bench-200';
    const plan = PlanInput.parse({
      name: 'bench-200',
      model: { source: 'sir.mdl' },
      experiment: { type: 'lhs', samples: 50, parameters: { 'Contact Rate': [2, 10] } },
      grid: { 'Illness Duration': Array.from({ length: EXPERIMENTS }, (_, i) => 1 + i / 10) },
    });
    mkdirSync(join(home, 'plans'), { recursive: true });
    writeFileSync(
      join(home, 'plans', `${planId}.json`),
      JSON.stringify({
        plan_id: planId,
        plan,
        model_text: '',
        status: 'finished',
        created_at: new Date().toISOString(),
      }),
    );
    for (let i = 0; i < EXPERIMENTS; i++) {
      await b.host.catalog.upsertExperiment({
        experiment_id: `${planId}-${String(i).padStart(3, '0')}`,
        plan_id: planId,
        status: i % 17 === 5 ? 'failed' : 'finished',
        ...(i % 17 === 5 ? { error: 'timed out after 1800000 ms' } : {}),
        config: { type: 'lhs', fixed: { 'Illness Duration': 1 + i / 10 } },
        started_at: new Date(Date.now() - 60_000).toISOString(),
        finished_at: new Date().toISOString(),
      });
    }
    // Experiments of 10,000 runs, a different one per round: the server caches the
    // bands of a runs file, and this measures the first (cold) paint.
    for (let r = 0; r <= ROUNDS; r++) {
      const dir = join(home, `bench-input-${r}`);
      mkdirSync(dir, { recursive: true });
      await writeRuns(join(dir, 'runs.parquet'), r);
      writeFileSync(
        join(dir, 'summary.json'),
        JSON.stringify({
          experiment_type: 'monte_carlo',
          run_count: RUNS,
          columns: { parameters: ['Contact Rate'] },
        }),
      );
      await b.host.catalog.registerResult({
        experiment_id: `bench-fan-10k-${r}`,
        session_id: 'bench',
        artifacts: [
          { path: join(dir, 'runs.parquet'), name: 'results/bench/runs.parquet' },
          { path: join(dir, 'summary.json'), name: 'results/bench/summary.json' },
        ],
        metrics: {},
      });
    }

    const { page } = b;
    await page.goto(`${b.server.url}?token=${b.token}#/models`);
    const firstPaint = async (hash: string, ready: string): Promise<number> => {
      await page.goto('about:blank');
      await page.goto(`${b.server.url}#${hash}`);
      await page.waitForFunction(ready, undefined, { timeout: 60_000, polling: 'raf' });
      return page.evaluate(() => performance.now());
    };
    const planMs: number[] = [];
    const fanMs: number[] = [];
    // Interleaved, so both see the same machine load.
    for (let r = 0; r < ROUNDS + 1; r++) {
      const p = await firstPaint(
        `/p/${planId}`,
        `document.querySelectorAll('.tiles .tile').length === ${EXPERIMENTS}`,
      );
      const f = await firstPaint(
        `/e/bench-fan-10k-${r}`,
        `document.querySelector('.fan-chart[data-runs="${RUNS}"] canvas') !== null`,
      );
      if (r > 0) {
        planMs.push(p);
        fanMs.push(f);
      }
    }
    return [
      { name: 'ui_plan_view_200_first_paint', value: median(planMs), unit: 'ms', goal: '<= 1000' },
      { name: 'ui_fan_chart_10k_runs_first_paint', value: median(fanMs), unit: 'ms', goal: '<= 1000' },
    ];
  } finally {
    await b.close();
    rmSync(home, { recursive: true, force: true });
  }
}

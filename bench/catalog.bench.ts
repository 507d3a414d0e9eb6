// Catalog benchmark: register 1,000 experiments (each a small Parquet file and
// 3 metrics), then time catalog_query over typical queries.
// Run: npx tsx bench/run.ts catalog
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { Catalog } from '../notebook-server/src/catalog/catalog.ts';
import { type BenchFigure, type BenchSuite, median } from './lib.ts';

const EXPERIMENTS = 1000;
const ROUNDS = 15;

const QUERIES: Record<string, string> = {
  metrics_aggregate: `SELECT name, count(*) AS n, avg(value) AS mean, min(value) AS min, max(value) AS max
    FROM metrics GROUP BY name ORDER BY name`,
  experiments_filter: `SELECT experiment_id, status, started_at, finished_at FROM experiments
    WHERE plan_id = 'bench' AND status = 'finished' AND json_extract_string(config, '$.contact_rate') = '3'
    ORDER BY finished_at DESC LIMIT 50`,
  results_peak_per_experiment: `SELECT experiment_id, max("Infected") AS peak_infected FROM results
    GROUP BY experiment_id ORDER BY peak_infected DESC LIMIT 20`,
};

export const suite: BenchSuite = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'peragus-bench-catalog-'));
  try {
    // Inputs: one Parquet file per experiment, written by a scratch DuckDB.
    const inputs = join(dir, 'inputs');
    await mkdir(inputs);
    const scratch = await (await DuckDBInstance.create(':memory:', { threads: '1' })).connect();
    for (let i = 0; i < EXPERIMENTS; i++) {
      await scratch.run(
        `COPY (SELECT range::DOUBLE AS time, 1000 - range * 5.0 AS "Susceptible",
           ${100 + i} * exp(-((range - 50) ^ 2) / 200.0) AS "Infected", range * 5.0 AS "Recovered"
         FROM range(101)) TO '${join(inputs, `${i}.parquet`)}' (FORMAT parquet)`,
      );
    }
    scratch.closeSync();

    const catalog = await Catalog.open({ home: join(dir, 'home') });
    // CPU as well as wall time: every DuckDB thread's, which the 2 cores' other load does not inflate.
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < EXPERIMENTS; i++) {
      const id = `bench-${String(i).padStart(4, '0')}`;
      await catalog.upsertExperiment({
        experiment_id: id,
        plan_id: 'bench',
        status: 'running',
        config: { contact_rate: i % 10 },
      });
      await catalog.registerResult({
        experiment_id: id,
        session_id: `s-${i}`,
        container_id: `c-${i}`,
        artifacts: [{ path: join(inputs, `${i}.parquet`), name: 'results.parquet' }],
        metrics: { peak_infected: 100 + i, peak_time: 50, final_recovered: 500 },
      });
    }
    const registerMs = (performance.now() - t0) / EXPERIMENTS;
    const registerCpu = process.cpuUsage(cpu0);
    const registerCpuMs = (registerCpu.user + registerCpu.system) / 1000 / EXPERIMENTS;

    const times: Record<string, number[]> = {};
    // Process CPU time (all DuckDB threads) per query: unlike wall time it does
    // not grow when other work shares the 2 cores.
    const cpu: Record<string, number[]> = {};
    for (const name of Object.keys(QUERIES)) {
      times[name] = [];
      cpu[name] = [];
    }
    for (const sql of Object.values(QUERIES)) await catalog.query(sql); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, sql] of Object.entries(QUERIES)) {
        const u = process.cpuUsage();
        const t = performance.now();
        const r = await catalog.query(sql);
        times[name]?.push(performance.now() - t);
        const used = process.cpuUsage(u);
        cpu[name]?.push((used.user + used.system) / 1000);
        if (r.row_count === 0) throw new Error(`bench query ${name} returned no rows`);
      }
    }
    catalog.close();

    const all = Object.values(times).flat();
    const round1 = (v: number) => Math.round(v * 10) / 10;
    const figures: BenchFigure[] = [
      { name: 'catalog_query_p50', value: round1(median(all)), unit: 'ms', goal: '<= 200 ms' },
      ...Object.entries(times).map(([name, ts]) => ({
        name: `catalog_query_p50_${name}`,
        value: round1(median(ts)),
        unit: 'ms',
      })),
      { name: 'catalog_query_cpu_p50', value: round1(median(Object.values(cpu).flat())), unit: 'ms' },
      ...Object.entries(cpu).map(([name, ts]) => ({
        name: `catalog_query_cpu_p50_${name}`,
        value: round1(median(ts)),
        unit: 'ms',
      })),
      { name: 'catalog_register_mean', value: round1(registerMs), unit: 'ms/experiment' },
      // A plan experiment's catalog writes (its status, then its result), on the host's CPU.
      { name: 'catalog_register_cpu_mean', value: round1(registerCpuMs), unit: 'CPU-ms/experiment' },
    ];
    return figures;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};

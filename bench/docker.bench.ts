// The Docker runtime's cost (issue 10), interleaved, medians, with the load
// average of the shared machine noted on every figure:
// - cold_start_p50_docker / warm_start_p50_docker: create → first cell ok
//   (container_create, notebook_create, a trivial cell through the host's
//   MCP tools), without and with the warm pool (the pool refills between
//   samples, outside the timed window).
// - plan_small_24_docker: the 24 teacup "single" experiments of
//   plan.bench.ts with the Docker runtime (warm pool at its default size),
//   against EMA Workbench's MultiprocessingEvaluator(2) in the same round;
//   plan_small_24_docker_nopool the same with PERAGUS_DOCKER_POOL=0.
// - experiment_cpu_docker: CPU-seconds of every process of that plan (host,
//   containers' cgroups, dockerd/containerd) / 24. dockerd and containerd are
//   shared: other users' container operations during the run land in it too.
// PERAGUS_BENCH_DOCKER_ITER (default 5) start samples, PERAGUS_BENCH_PLAN_RUNS
// (default 3, 0 = none) plan rounds; PERAGUS_BENCH_DOCKER_NOPOOL=0 skips the no-pool plan.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { createHost, type Host } from '../notebook-server/src/app/host.ts';
import type { DockerRuntime } from '../notebook-server/src/runtime/docker.ts';
import { dockerReason } from '../tests/helpers/docker.ts';
import { type BenchFigure, type BenchSuite, median, r3, versus } from './lib.ts';
import { callTool, type Json, mcpClient } from './mcp.ts';
import { emaTeacup24, ours, peer, teacupPlan } from './plan-runs.ts';

const ITER = Number(process.env.PERAGUS_BENCH_DOCKER_ITER ?? 5);
const RUNS = Number(process.env.PERAGUS_BENCH_PLAN_RUNS ?? 3);
const log = (s: string) => process.stderr.write(`[bench] docker: ${s}\n`);

async function mcpHost(
  home: string,
  pool: string,
): Promise<{ host: Host; client: Client; rt: DockerRuntime }> {
  const host = await createHost({ home, poolSize: 0, resumePlans: false });
  const saved = process.env.PERAGUS_DOCKER_POOL;
  process.env.PERAGUS_DOCKER_POOL = pool;
  const rt = host.containers.runtime('docker') as DockerRuntime; // reads the pool size now
  if (saved === undefined) delete process.env.PERAGUS_DOCKER_POOL;
  else process.env.PERAGUS_DOCKER_POOL = saved;
  return { host, client: await mcpClient(host, 'bench-docker'), rt };
}

const call = (client: Client, name: string, args: Json) => callTool(client, name, args, { timeout: 600_000 });

/** create → first cell ok, in ms; the container is destroyed afterwards (not timed). */
async function startOnce(client: Client, id: string): Promise<number> {
  const t0 = performance.now();
  const c = await call(client, 'container_create', { runtime: 'docker', experiment_id: id });
  const nb = await call(client, 'notebook_create', { name: 'start', container_id: c.container_id });
  const cell = await call(client, 'cell_add', { session_id: nb.session_id, source: '1 + 1', execute: true });
  const ms = performance.now() - t0;
  if ((cell.run as Json | undefined)?.status !== 'ok')
    throw new Error(`first cell failed: ${JSON.stringify(cell)}`);
  await call(client, 'container_destroy', { container_id: c.container_id, remove_work_dir: true });
  return ms;
}

const loadNote = (loads: number[]) =>
  `load avg (1 min) ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} over the samples`;

export const suite: BenchSuite = async () => {
  const why = dockerReason();
  if (why !== null) {
    log(`not measured: ${why}`);
    return [];
  }
  // `peragus run` runs the bundle only while it is newer than every source: measure that path.
  const builder = '../scripts/build-bundle.mjs'; // plain JS, no type declarations
  const { buildBundle } = (await import(builder)) as { buildBundle: () => Promise<boolean> };
  await buildBundle();
  const figures: BenchFigure[] = [];
  const home = mkdtempSync(join(tmpdir(), 'peragus-bench-docker-'));
  const cold = await mcpHost(join(home, 'cold'), '0');
  const warm = await mcpHost(join(home, 'warm'), process.env.PERAGUS_DOCKER_POOL ?? '2');
  const coldMs: number[] = [];
  const warmMs: number[] = [];
  const startLoads: number[] = [];
  try {
    if ((await warm.rt.poolReady(1)) < 1) throw new Error('the warm pool did not fill (see stderr)');
    // One untimed start each: image layers and the page cache are warm for both.
    await startOnce(cold.client, 'prime-cold');
    await startOnce(warm.client, 'prime-warm');
    for (let i = 0; i < ITER; i++) {
      startLoads.push(loadavg()[0]!);
      coldMs.push(await startOnce(cold.client, `cold-${i}`));
      await warm.rt.poolReady(1);
      startLoads.push(loadavg()[0]!);
      warmMs.push(await startOnce(warm.client, `warm-${i}`));
      log(
        `start ${i + 1}: cold ${coldMs[i]!.toFixed(0)} ms, warm ${warmMs[i]!.toFixed(0)} ms (load ${loadavg()[0]!.toFixed(1)})`,
      );
    }
  } finally {
    for (const h of [cold, warm]) {
      await h.client.close();
      await h.host.close();
    }
  }
  const note = loadNote(startLoads);
  figures.push(
    { name: 'cold_start_p50_docker', value: Math.round(median(coldMs)), unit: 'ms', goal: '<= 1000', note },
    {
      name: 'warm_start_p50_docker',
      value: Math.round(median(warmMs)),
      unit: 'ms',
      peer: 'cold_start_docker',
      peer_value: Math.round(median(coldMs)),
      ratio: r3(median(warmMs) / median(coldMs)),
      goal: '<= 150',
      note,
    },
  );

  const dir = mkdtempSync(join(tmpdir(), 'pbench-docker-'));
  const s: Record<string, number[]> = {};
  const add = (k: string, v: number) => {
    s[k] ??= [];
    s[k].push(v);
  };
  const planLoads: number[] = [];
  const noPool = process.env.PERAGUS_BENCH_DOCKER_NOPOOL !== '0';
  try {
    for (let i = 0; i < RUNS; i++) {
      planLoads.push(loadavg()[0]!);
      const e = await peer('ema_plan.py', emaTeacup24, dir);
      add('ema', e.wall_s);
      planLoads.push(loadavg()[0]!);
      const d = await ours(teacupPlan(), 'docker');
      add('docker', d.wall_s);
      add('cpu', d.cpu_s / 24);
      log(
        `plan ${i + 1}: EMA ${e.wall_s.toFixed(1)} s, docker ${d.wall_s.toFixed(1)} s, ` +
          `${(d.cpu_s / 24).toFixed(2)} CPU-s/exp (host ${((d.cpu_s - (d.containers_s ?? 0) - (d.daemons_s ?? 0)) / 24).toFixed(2)}, ` +
          `containers ${((d.containers_s ?? 0) / 24).toFixed(2)}, dockerd+containerd ${((d.daemons_s ?? 0) / 24).toFixed(2)}; load ${loadavg()[0]!.toFixed(1)})`,
      );
      if (noPool) {
        const saved = process.env.PERAGUS_DOCKER_POOL;
        process.env.PERAGUS_DOCKER_POOL = '0';
        try {
          const n = await ours(teacupPlan(), 'docker');
          add('nopool', n.wall_s);
          add('nopool_cpu', n.cpu_s / 24);
          log(
            `plan ${i + 1}: docker without pool ${n.wall_s.toFixed(1)} s, ${(n.cpu_s / 24).toFixed(2)} CPU-s/exp`,
          );
        } finally {
          if (saved === undefined) delete process.env.PERAGUS_DOCKER_POOL;
          else process.env.PERAGUS_DOCKER_POOL = saved;
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  }
  if (RUNS === 0) return figures; // PERAGUS_BENCH_PLAN_RUNS=0: the start figures only
  const planNote = loadNote(planLoads);
  const emaWall = median(s.ema!);
  figures.push(
    versus('plan_small_24_docker', 's', median(s.docker!), 'ema_workbench_mp2', emaWall, {
      goal: '<= 5.0',
      note: planNote,
    }),
    {
      name: 'experiment_cpu_docker',
      value: r3(median(s.cpu!)),
      unit: 'CPU-s',
      goal: '<= 1.2',
      note: planNote,
    },
  );
  if (noPool) {
    figures.push(
      versus('plan_small_24_docker_nopool', 's', median(s.nopool!), 'ema_workbench_mp2', emaWall, {
        note: planNote,
      }),
      {
        name: 'experiment_cpu_docker_nopool',
        value: r3(median(s.nopool_cpu!)),
        unit: 'CPU-s',
        note: planNote,
      },
    );
  }
  return figures;
};

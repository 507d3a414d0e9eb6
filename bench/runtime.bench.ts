// Container cold start (create → session ready: container_create,
// notebook_create and a first trivial cell) for the local and docker
// runtimes, through the host's MCP tools; and the 24-experiment plan's
// parallel efficiency (plan_lhs_24x100_k4_efficiency: lib.ts planEfficiency).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { createHost } from '../notebook-server/src/app/host.ts';
import { LocalRuntime } from '../notebook-server/src/runtime/local.ts';
import { dockerReason } from '../tests/helpers/docker.ts';
import { type BenchFigure, type BenchSuite, median, planEfficiency, r3 } from './lib.ts';
import { callTool, type Json, mcpClient } from './mcp.ts';

const ITERATIONS = Number(process.env.PERAGUS_BENCH_COLD_ITER ?? 5);

const call = (client: Client, name: string, args: Json) =>
  callTool(client, name, args, { timeout: 1_800_000, resetTimeoutOnProgress: true });

async function coldStart(client: Client, runtime: 'local' | 'docker'): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const t0 = performance.now();
    const c = await call(client, 'container_create', { runtime, experiment_id: `cold-${runtime}-${i}` });
    const nb = await call(client, 'notebook_create', { name: 'cold', container_id: c.container_id });
    const cell = await call(client, 'cell_add', { session_id: nb.session_id, source: '1', execute: true });
    times.push(performance.now() - t0);
    if ((cell.run as Json).status !== 'ok') throw new Error('cold start cell failed');
    await call(client, 'container_destroy', { container_id: c.container_id, remove_work_dir: true });
  }
  return times;
}

/**
 * What the bubblewrap sandbox costs a local experiment: node role start (create
 * until its endpoint answers) plus one exec, sandboxed vs not, interleaved.
 */
export async function sandboxCost(home: string): Promise<BenchFigure | undefined> {
  const sandboxed = new LocalRuntime({ home });
  if (sandboxed.isolation.isolation !== 'bubblewrap') {
    process.stderr.write(`[bench] sandbox cost not measured: ${sandboxed.isolation.reason}\n`);
    return undefined;
  }
  const bare = new LocalRuntime({ home, isolation: { isolation: 'none', reason: 'bench peer' } });
  const once = async (rt: LocalRuntime, i: number) => {
    const t0 = performance.now();
    const c = await rt.create({ experiment_id: `sbx-${rt.isolation.isolation}-${i}` });
    await rt.exec(c.container_id, ['true']);
    const ms = performance.now() - t0;
    await rt.destroy(c.container_id, { removeWorkDir: true });
    return ms;
  };
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    ours.push(await once(sandboxed, i));
    theirs.push(await once(bare, i));
  }
  const value = Math.round(median(ours));
  const peer = Math.round(median(theirs));
  return {
    name: 'local_start_p50_bubblewrap',
    value,
    unit: 'ms',
    peer: 'unsandboxed',
    peer_value: peer,
    ratio: Number((value / peer).toFixed(3)),
    goal: '<= 1.1',
  };
}

export const suite: BenchSuite = async () => {
  const home = mkdtempSync(join(tmpdir(), 'peragus-bench-rt-'));
  const host = await createHost({ home, poolSize: 0, resumePlans: false });
  const client = await mcpClient(host);
  const figures: BenchFigure[] = [];
  try {
    const cost = await sandboxCost(home);
    if (cost) figures.push(cost);
    const local = await coldStart(client, 'local');
    figures.push({ name: 'cold_start_p50_local', value: Math.round(median(local)), unit: 'ms' });
    const why = dockerReason();
    if (why === null) {
      const docker = await coldStart(client, 'docker');
      figures.push({ name: 'cold_start_p50_docker', value: Math.round(median(docker)), unit: 'ms' });
    } else {
      process.stderr.write(`[bench] cold_start_p50_docker not measured: ${why}\n`);
    }

    // Kernel compute of one experiment measured alone (no contention), times 24,
    // over the cores: the ideal wall time; efficiency = ideal / measured.
    const base = {
      // Over MCP a plan's model is inline content (or the inbox / catalog), never a host path.
      model: {
        source: 'sir.mdl',
        content: readFileSync(join(import.meta.dirname, '..', 'notebooks/models/sir.mdl'), 'utf8'),
      },
      experiment: {
        type: 'lhs',
        samples: 100,
        seed: 1,
        parameters: { 'Illness Duration': [2, 10] },
        workers: 1,
      },
      runtime: 'local',
    };
    // Median of three lone runs: one sample is at the mercy of the shared machine.
    const aloneRuns: number[] = [];
    for (let i = 0; i < 3; i++) {
      const alone = await call(client, 'experiment_plan_run', {
        ...base,
        targets: [{ 'Contact Rate': 8, Infectivity: 0.1 }],
        parallel_limit: 1,
      });
      aloneRuns.push((alone.experiments as { compute_ms: number }[])[0]?.compute_ms ?? 0);
    }
    const aloneMs = median(aloneRuns);
    const plan = await call(client, 'experiment_plan_run', {
      ...base,
      grid: { 'Contact Rate': [4, 6, 8, 10, 12, 14], Infectivity: [0.05, 0.1, 0.15, 0.2] },
      parallel_limit: 4,
    });
    const wall = plan.wall_ms as number;
    // Not plan_parallel_efficiency: that figure and its goal are the 8 × 200-run plan's at K = 2
    // (bench/plan.bench.ts). This one asks the same of more, shorter experiments and more slots
    // than cores; one name for two workloads would put two rows of it in one table.
    figures.push({
      name: 'plan_lhs_24x100_k4_efficiency',
      value: r3(planEfficiency(24, aloneMs, 4, wall)),
      unit: 'ratio',
    });
    figures.push({ name: 'plan_24_wall', value: Math.round(wall), unit: 'ms' });
  } finally {
    await client.close();
    await host.close();
    rmSync(home, { recursive: true, force: true });
  }
  return figures;
};

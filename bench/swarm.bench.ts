// The swarm runtime on the 3-node lab (scripts/swarm-lab.sh up):
// swarm_cold_start_p50: container_create → notebook_create → first cell ok,
// with the Docker runtime on this host as the peer (interleaved); and
// swarm_plan_24: 24 teacup singles with K = 6, its speed-up over K = 2 on the
// same lab. The lab's three nodes share this machine's cores, so the speed-up
// is bounded by them, not by the cluster. Skipped, saying why, when the lab is
// not up (the swarm tests, not the bench, are where a missing lab fails CI).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { createHost, type Host } from '../notebook-server/src/app/host.ts';
import { dockerReason } from '../tests/helpers/docker.ts';
import { sdModelsDir } from '../tests/helpers/sd-models.ts';
import { swarmLab, useLabEnv } from '../tests/helpers/swarm-lab.ts';
import { type BenchFigure, type BenchSuite, median } from './lib.ts';
import { callTool, type Json, mcpClient } from './mcp.ts';

const ITERATIONS = Number(process.env.PERAGUS_BENCH_SWARM_ITER ?? 3);
const LAB_ENV = process.env.PERAGUS_SWARM_LAB_ENV ?? '/run/peragus-swarm-lab/env';

const call = (client: Client, name: string, args: Json) =>
  callTool(client, name, args, { timeout: 3_600_000, resetTimeoutOnProgress: true });

async function coldStart(client: Client, runtime: 'swarm' | 'docker', i: number): Promise<number> {
  const t0 = performance.now();
  const c = await call(client, 'container_create', {
    runtime,
    experiment_id: `cold-${runtime}-${process.pid}-${i}`,
    resources: { cpu: 1, memory: '1g' },
  });
  try {
    const nb = await call(client, 'notebook_create', { name: 'cold', container_id: c.container_id });
    const cell = await call(client, 'cell_add', { session_id: nb.session_id, source: '1', execute: true });
    if ((cell.run as Json | undefined)?.status !== 'ok') {
      throw new Error(`cold start cell failed on ${runtime}: ${JSON.stringify(cell).slice(0, 500)}`);
    }
    return performance.now() - t0;
  } finally {
    await call(client, 'container_destroy', { container_id: c.container_id, remove_work_dir: true });
  }
}

export const suite: BenchSuite = async () => {
  if (!existsSync(LAB_ENV)) {
    process.stderr.write(
      `[bench] swarm figures not measured: the swarm lab is not up (no ${LAB_ENV}); run \`sudo scripts/swarm-lab.sh up\`\n`,
    );
    return [];
  }
  const models = sdModelsDir();
  if (!models) throw new Error('the swarm plan bench needs the SDXorg test models (teacup)');
  useLabEnv(swarmLab());
  const home = mkdtempSync(join(tmpdir(), 'peragus-bench-swarm-'));
  const host: Host = await createHost({ home, poolSize: 0, resumePlans: false, runtime: 'swarm' });
  const client = await mcpClient(host);
  const figures: BenchFigure[] = [];
  try {
    const withDocker = dockerReason() === null;
    const swarm: number[] = [];
    const docker: number[] = [];
    for (let i = 0; i < ITERATIONS; i++) {
      swarm.push(await coldStart(client, 'swarm', i));
      if (withDocker) docker.push(await coldStart(client, 'docker', i));
    }
    const cold = Math.round(median(swarm));
    figures.push({
      name: 'swarm_cold_start_p50',
      value: cold,
      unit: 'ms',
      ...(withDocker
        ? {
            peer: 'docker runtime (this host)',
            peer_value: Math.round(median(docker)),
            ratio: Number((cold / median(docker)).toFixed(3)),
          }
        : {}),
    });

    const teacup = readFileSync(join(models, 'samples/teacup/teacup_mdl.mdl'), 'utf8');
    const plan = (k: number) => ({
      model: { source: 'teacup.mdl', content: teacup },
      experiment: { type: 'single', metrics: [{ variable: 'Teacup Temperature', stat: 'min' }] },
      grid: { 'Characteristic Time': [5, 8, 11, 14, 17, 20], 'Room Temperature': [60, 66, 72, 78] },
      parallel_limit: k,
      runtime: 'swarm',
      resources: { cpu: 0.5, memory: '1g' },
    });
    const wall = async (k: number) => {
      const t0 = performance.now();
      const s = await call(client, 'experiment_plan_run', plan(k));
      if (s.finished !== 24) throw new Error(`swarm plan K=${k}: ${s.finished} of 24 finished`);
      return performance.now() - t0;
    };
    const k6 = await wall(6);
    const k2 = await wall(2);
    figures.push({
      name: 'swarm_plan_24',
      value: Math.round(k6),
      unit: 'ms',
      peer: 'same plan, K = 2',
      peer_value: Math.round(k2),
      ratio: Number((k2 / k6).toFixed(3)),
      goal: 'speed-up > 1',
    });
  } finally {
    await client.close();
    await host.close();
    rmSync(home, { recursive: true, force: true });
  }
  return figures;
};

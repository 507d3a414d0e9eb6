// Where one Docker experiment's CPU goes, phase by phase (issue 10's profile):
//   npx tsx bench/docker-profile.ts [--pool]
// Runs the lifecycle of one teacup "single" experiment through the host's MCP
// tools (as a plan does: the model translated once beforehand into the shared
// cache) and prints, per phase, the CPU-seconds of the host process,
// dockerd+containerd, and each process in the container (from /proc inside
// it). dockerd and containerd are shared: others' work lands in them too.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHost } from '../notebook-server/src/app/host.ts';
import type { DockerRuntime } from '../notebook-server/src/runtime/docker.ts';
import { daemonCpu, shimCpu } from './docker-cpu.ts';
import { callTool, type Json, mcpClient } from './mcp.ts';
import { TEACUP } from './plan-runs.ts';

const pool = process.argv.includes('--pool');
const home = mkdtempSync(join(tmpdir(), 'peragus-profile-'));
const host = await createHost({ home, poolSize: 0, resumePlans: false });
const client = await mcpClient(host, 'profile');
const call = (name: string, args: Json) => callTool(client, name, args, { timeout: 600_000 });
const modelText = readFileSync(TEACUP, 'utf8');

// The plan check translates the model once into <home>/pysd-cache, as `peragus run` does.
const { plan } = host.plans.prepare({
  model: { source: 'teacup.mdl', content: modelText },
  experiment: { type: 'single' },
  runtime: 'docker',
});
await host.plans.wait((await host.plans.start(plan, modelText)).plan_id);

const rt = host.containers.runtime('docker') as DockerRuntime;
if (pool) await rt.poolReady(1);

/** utime+stime (+ reaped children) per command name inside the container, in CPU-s. */
async function inside(cid: string): Promise<Record<string, number>> {
  const r = await rt.exec(cid, ['sh', '-c', 'cat /proc/[0-9]*/stat 2>/dev/null']);
  const out: Record<string, number> = {};
  for (const line of r.stdout.split('\n')) {
    const open = line.indexOf('(');
    const close = line.lastIndexOf(')');
    if (open < 0) continue;
    const name = line.slice(open + 1, close);
    if (name === 'cat' || name === 'sh') continue;
    const f = line.slice(close + 2).split(' ');
    out[name] = (out[name] ?? 0) + (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
  }
  return out;
}

const rows: string[] = [];
let lastHost = process.cpuUsage();
let lastDaemons = daemonCpu();
let lastInside: Record<string, number> = {};
let lastShim = 0;
let cid = '';
async function phase(name: string, fn: () => Promise<void>): Promise<void> {
  const t0 = performance.now();
  await fn();
  const wall = performance.now() - t0;
  const h = process.cpuUsage(lastHost);
  lastHost = process.cpuUsage();
  const d = daemonCpu();
  const shim = cid ? (shimCpu([cid]).get(cid) ?? lastShim) : lastShim;
  const now = cid ? await inside(cid).catch(() => ({}) as Record<string, number>) : {};
  const diff = Object.entries(now)
    .map(([k, v]) => [k, v - (lastInside[k] ?? 0)] as const)
    .filter(([, v]) => v > 0.005)
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(', ');
  rows.push(
    `| ${name} | ${wall.toFixed(0)} | ${((h.user + h.system) / 1e6).toFixed(2)} | ${(d - lastDaemons).toFixed(2)} | ${(shim - lastShim).toFixed(2)} | ${diff} |`,
  );
  lastDaemons = d;
  lastShim = shim;
  lastInside = now;
}

let sid = '';
let modelId = '';
// A failed step still tears down what the run made (containers, pool, volumes).
try {
  let artifact = '';
  await phase('container_create', async () => {
    cid = (await call('container_create', { runtime: 'docker', experiment_id: `profile-${process.pid}` }))
      .container_id as string;
  });
  await phase('cp_in model', async () => {
    await rt.cpIn(cid, 'models/teacup.mdl', { content: modelText });
  });
  await phase('notebook_create (kernel ready)', async () => {
    sid = (await call('notebook_create', { name: 'profile', container_id: cid })).session_id as string;
  });
  await phase('pysd_model_load (shared translation)', async () => {
    modelId = (await call('pysd_model_load', { session_id: sid, source: 'models/teacup.mdl' }))
      .model_id as string;
  });
  await phase('pysd_experiment_run (single)', async () => {
    const ran = await call('pysd_experiment_run', {
      session_id: sid,
      model_id: modelId,
      experiment: { type: 'single', return_columns: ['Teacup Temperature'] },
    });
    artifact = (ran.artifacts as { path: string }[]).find((x) => x.path.endsWith('.parquet'))!.path;
  });
  await phase('notebook_export', async () => {
    await call('notebook_export', { session_id: sid, format: 'srcmd' });
  });
  await phase('cp_out results', async () => {
    await call('container_cp_out', { container_id: cid, src: artifact });
  });
  const beforeDestroy = cid;
  await phase('container_destroy', async () => {
    cid = '';
    await call('container_destroy', { container_id: beforeDestroy });
  });
  console.log(
    `Docker experiment profile (${pool ? 'warm pool' : 'cold'}), load avg ${loadavg()[0]!.toFixed(1)}`,
  );
  console.log(
    '| phase | wall ms | host CPU-s | dockerd+containerd CPU-s | shim+runc CPU-s | in container (CPU-s by process) |',
  );
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
} finally {
  for (const c of await host.containers.list(undefined, 'docker').catch(() => [])) {
    await host.containers.destroy(c.container_id).catch(() => undefined);
  }
  await client.close();
  await host.close();
  rmSync(home, { recursive: true, force: true });
}

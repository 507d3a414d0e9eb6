// Which writes reach the disk before they count (fsync), watched with strace on this very process:
// a plan's experiment is scratch (its notebook is not flushed on every change: its results are
// registered, flushed, in the catalog, and a crash reruns it), while an agent's container keeps
// every notebook write flushed. Real host, sandbox (and Docker container), kernel and catalog.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PlanInput } from '../../notebook-server/src/schemas/plan.ts';
import { dockerTestsEnabled } from '../helpers/docker.ts';
import { startTestHost, type TestHost } from '../helpers/host.ts';
import { REPO } from '../helpers/sd-models.ts';

let t: TestHost;
const withDocker = dockerTestsEnabled();
const SIR = readFileSync(join(REPO, 'notebooks/models/sir.mdl'), 'utf8');

/** The paths this process flushed (fsync/fdatasync) while `fn` ran, from strace -y. */
async function flushedDuring(fn: () => Promise<void>): Promise<string[]> {
  const out = join(t.home, `strace-${Date.now()}.txt`);
  const strace: ChildProcess = spawn(
    'strace',
    ['-f', '-qq', '-y', '-e', 'trace=fsync,fdatasync', '-o', out, '-p', String(process.pid)],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  strace.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  // Traced once the main thread says so.
  const deadline = Date.now() + 10_000;
  while (!/TracerPid:\s+[1-9]/.test(readFileSync('/proc/self/status', 'utf8'))) {
    if (Date.now() > deadline || strace.exitCode !== null) throw new Error(`strace did not attach: ${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  try {
    await fn();
  } finally {
    const done = new Promise((r) => strace.once('close', r));
    strace.kill('SIGINT');
    await done;
  }
  return [...readFileSync(out, 'utf8').matchAll(/fsync\(\d+<([^>]*)>/g)].map((m) => m[1]!);
}

beforeAll(async () => {
  t = await startTestHost({ runtime: 'local' });
});

afterAll(async () => {
  await t?.close();
});

/** Runs a one-experiment plan on `runtime` under strace: what was flushed, and where its work dir was. */
async function planFlushes(runtime: 'local' | 'docker') {
  let workDir = '';
  let id = '';
  const create = t.host.containers.create.bind(t.host.containers);
  t.host.containers.create = async (...args) => {
    const made = await create(...args);
    workDir = made.work_dir;
    return made;
  };
  const flushed = await flushedDuring(async () => {
    const { plan_id, experiments } = await t.host.plans.start(
      PlanInput.parse({
        model: { source: 'sir.mdl' },
        experiment: { type: 'lhs', samples: 20, parameters: { Infectivity: [0.05, 0.2] } },
        targets: [{ 'Contact Rate': 5 }],
        parallel_limit: 1,
        runtime,
      }),
      SIR,
    );
    id = experiments[0]!.experiment_id;
    const summary = await t.host.plans.wait(plan_id);
    expect(summary.finished, JSON.stringify(summary)).toBe(1);
  }).finally(() => {
    t.host.containers.create = create;
  });
  expect(workDir).not.toBe('');
  return { flushed, workDir, id };
}

describe('notebook writes reach the disk', () => {
  for (const runtime of ['local', ...(withDocker ? ['docker' as const] : [])] as const) {
    it(`unflushed in a plan's experiment (${runtime}), whose result is flushed into the catalog`, async () => {
      const { flushed, workDir, id } = await planFlushes(runtime);
      // The experiment's work dir (its notebook, session record, exports): nothing flushed there.
      // (A Docker experiment's size-capped volume image is flushed once by mkfs, beside it.)
      expect(flushed.filter((p) => p.startsWith(`${workDir}/`))).toEqual([]);
      expect(id).not.toBe('');
      // Its registered artifacts (the store: new blobs only, as Parquet files the same seed made
      // before are stored once) and the catalog's log: flushed.
      expect(flushed.filter((p) => p.includes(`${t.home}/store/`)).length).toBeGreaterThanOrEqual(1);
      expect(flushed.some((p) => p.endsWith('catalog.duckdb.wal'))).toBe(true);
    }, 300_000);
  }

  it("flushed on every change in an agent's container, which cannot ask to be scratch", async () => {
    let workDir = '';
    const flushed = await flushedDuring(async () => {
      // `scratch` is not container_create's to take (its schema drops unknown keys): an agent
      // naming it still gets every write flushed.
      const c = await t.client.callTool({
        name: 'container_create',
        arguments: { runtime: 'local', experiment_id: 'agent-flush', scratch: true },
      });
      expect(c.isError).toBeFalsy();
      const made = c.structuredContent as Record<string, unknown>;
      const cid = made.container_id;
      workDir = String(made.work_dir);
      const nb = await t.call('notebook_create', { name: 'flush', container_id: cid });
      const cell = await t.call('cell_add', { session_id: nb.session_id, source: 'x = 1', execute: true });
      expect((cell.run as { status: string }).status).toBe('ok');
      await t.call('container_destroy', { container_id: cid });
    });
    const inWork = flushed.filter((p) => p.startsWith(workDir));
    expect(inWork.some((p) => /\.src\.md\.[0-9a-f]+\.peragus-tmp$/.test(p))).toBe(true);
    expect(inWork.some((p) => /\.outputs\.json\.[0-9a-f]+\.peragus-tmp$/.test(p))).toBe(true);
    expect(inWork.some((p) => /sessions\/\.[^/]+\.json\.[0-9a-f]+\.peragus-tmp$/.test(p))).toBe(true);
  }, 300_000);
});

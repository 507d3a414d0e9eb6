// Which writes reach the disk before they count (fsync), watched with strace on this very process
// and what it starts (a Docker container's processes are attached by pid):
// a plan's experiment is scratch (its notebook is not flushed on every change: its results are
// registered, flushed, in the catalog, and a crash reruns it), while an agent's container keeps
// every notebook write flushed. Real host, sandbox (and Docker container), kernel and catalog.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerRuntime } from '../../notebook-server/src/runtime/docker.ts';
import { PlanInput } from '../../notebook-server/src/schemas/plan.ts';
import { containerProcesses, dockerTestsEnabled } from '../helpers/docker.ts';
import { startTestHost, type TestHost } from '../helpers/host.ts';
import { REPO } from '../helpers/sd-models.ts';

let t: TestHost;
const withDocker = dockerTestsEnabled();
const SIR = readFileSync(join(REPO, 'notebooks/models/sir.mdl'), 'utf8');

/** Traced once each process's status says so. */
async function traced(pids: number[], strace: ChildProcess, err: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  const tracedNow = (pid: number) => {
    try {
      return /TracerPid:\s+[1-9]/.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
    } catch {
      return true; // gone: nothing left to trace
    }
  };
  while (!pids.every(tracedNow)) {
    if (Date.now() > deadline || strace.exitCode !== null) throw new Error(`strace did not attach: ${err()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts tracing `pids` and their new children for flushes (fsync/fdatasync), with strace -y. */
async function traceFlushes(pids: number[]): Promise<() => Promise<string[]>> {
  const out = join(t.home, `strace-${Date.now()}-${pids[0]}.txt`);
  const strace: ChildProcess = spawn(
    'strace',
    ['-f', '-qq', '-y', '-e', 'trace=fsync,fdatasync', '-o', out, ...pids.flatMap((p) => ['-p', String(p)])],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  strace.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  // strace ends by itself once its tracees are gone (a destroyed container's): heard from the start.
  const done = new Promise((r) => strace.once('close', r));
  await traced(pids, strace, () => err);
  return async () => {
    strace.kill('SIGINT');
    await done;
    return [...readFileSync(out, 'utf8').matchAll(/(?:fsync|fdatasync)\(\d+<([^>]*)>/g)].map((m) => m[1]!);
  };
}

/** The paths this process (and what it starts) flushed while `fn` ran. */
async function flushedDuring(fn: () => Promise<void>): Promise<string[]> {
  const stop = await traceFlushes([process.pid]);
  let flushed: string[] = [];
  try {
    await fn();
  } finally {
    flushed = await stop();
  }
  return flushed;
}

beforeAll(async () => {
  t = await startTestHost({ runtime: 'local' });
});

afterAll(async () => {
  await t?.close();
});

/**
 * Runs a one-experiment plan on `runtime` under strace: what was flushed, and where its work dir was.
 * `container`: the experiment's container is traced too, from its creation on (a Docker
 * container's processes are not this process's children).
 */
async function planFlushes(on: TestHost, runtime: 'local' | 'docker', { container = false } = {}) {
  let workDir = '';
  let id = '';
  const stops: (() => Promise<string[]>)[] = [];
  const processes: string[] = [];
  const containers = on.host.containers;
  const create = containers.create.bind(containers);
  containers.create = async (...args) => {
    const made = await create(...args);
    workDir = made.work_dir;
    if (container) {
      const inside = containerProcesses(made.container_id);
      processes.push(...inside.map((p) => p.args));
      stops.push(await traceFlushes(inside.map((p) => p.pid)));
    }
    return made;
  };
  const flushed = await flushedDuring(async () => {
    const { plan_id, experiments } = await on.host.plans.start(
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
    const summary = await on.host.plans.wait(plan_id);
    expect(summary.finished, JSON.stringify(summary)).toBe(1);
  }).finally(() => {
    containers.create = create;
  });
  for (const stop of stops) flushed.push(...(await stop()));
  expect(workDir).not.toBe('');
  return { flushed, workDir, id, processes };
}

/** What a plan's experiment flushed: nothing in its work dir, its registered result in the catalog. */
function expectScratch(on: TestHost, { flushed, workDir, id }: Awaited<ReturnType<typeof planFlushes>>) {
  // The experiment's work dir (its notebook, session record, exports), as the host or the
  // experiment's own processes see it: nothing flushed there. (A Docker experiment's
  // size-capped volume image is flushed once by mkfs, beside it.)
  expect(flushed.filter((p) => p.startsWith(`${workDir}/`) || p.startsWith('/experiment/'))).toEqual([]);
  expect(id).not.toBe('');
  // Its registered artifacts (the store: new blobs only, as Parquet files the same seed made
  // before are stored once) and the catalog's log: flushed.
  expect(flushed.filter((p) => p.includes(`${on.home}/store/`)).length).toBeGreaterThanOrEqual(1);
  expect(flushed.some((p) => p.endsWith('catalog.duckdb.wal'))).toBe(true);
}

describe('notebook writes reach the disk', () => {
  for (const runtime of ['local', ...(withDocker ? ['docker' as const] : [])] as const) {
    it(`unflushed in a plan's experiment (${runtime}), whose result is flushed into the catalog`, async () => {
      expectScratch(t, await planFlushes(t, runtime));
    }, 300_000);
  }

  describe('served by a node role in the sandbox or container (PERAGUS_*_SESSIONS=node)', () => {
    // Hosts whose experiments' sessions are node roles': `n` keeps a Docker warm pool of one, `cold` none.
    let n: TestHost;
    let cold: TestHost;
    const names = ['PERAGUS_LOCAL_SESSIONS', 'PERAGUS_DOCKER_SESSIONS', 'PERAGUS_DOCKER_POOL'];
    const saved = names.map((name) => process.env[name]);
    // A Docker runtime reads these when it is made (at first use): made here, while they are set.
    beforeAll(async () => {
      process.env.PERAGUS_LOCAL_SESSIONS = 'node';
      process.env.PERAGUS_DOCKER_SESSIONS = 'node';
      process.env.PERAGUS_DOCKER_POOL = '1';
      n = await startTestHost({ runtime: 'local' });
      if (withDocker) n.host.containers.runtime('docker');
      process.env.PERAGUS_DOCKER_POOL = '0';
      cold = await startTestHost({ runtime: 'local' });
      if (withDocker) cold.host.containers.runtime('docker');
    });
    afterAll(async () => {
      await n?.close();
      await cold?.close();
      names.forEach((name, i) => {
        if (saved[i] === undefined) delete process.env[name];
        else process.env[name] = saved[i];
      });
    });

    it("unflushed in a plan's experiment (local): its node is told --scratch", async () => {
      // Its node is this process's grandchild: traced from its start.
      expectScratch(n, await planFlushes(n, 'local'));
    }, 300_000);

    /** The plan's container ran a node role, which served its sessions. */
    const servedByNode = (run: { processes: string[] }) =>
      expect(run.processes.filter((args) => /^node .*node-role\.cjs/.test(args))).toHaveLength(1);

    it.runIf(withDocker)(
      "unflushed in a plan's experiment (docker, cold): its node is told --scratch",
      async () => {
        const docker = cold.host.containers.runtime('docker') as DockerRuntime;
        const run = await planFlushes(cold, 'docker', { container: true });
        expect(docker.handedOver).toBe(0);
        servedByNode(run);
        expectScratch(cold, run);
      },
      300_000,
    );

    it.runIf(withDocker)(
      "unflushed in a plan's experiment (docker, a pooled container): told so at the hand-over",
      async () => {
        const docker = n.host.containers.runtime('docker') as DockerRuntime;
        expect(await docker.poolReady(1)).toBe(1);
        const run = await planFlushes(n, 'docker', { container: true });
        // The node started before its experiment existed: it learnt it was scratch at the hand-over.
        expect(docker.handedOver).toBe(1);
        servedByNode(run);
        expectScratch(n, run);
      },
      300_000,
    );
  });

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

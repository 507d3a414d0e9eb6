// The Docker warm pool against a real daemon and the experiment image:
// hand-over gives a working experiment with its real id, concurrent creates
// never share a container, a killed pooled container is discarded and
// replaced, close leaves nothing behind, and a plan gives the same Parquet
// with or without the pool.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host } from '../../notebook-server/src/app/host.ts';
import { DockerRuntime } from '../../notebook-server/src/runtime/docker.ts';
import { claimsDir, POOL_LABELS } from '../../notebook-server/src/runtime/docker-claims.ts';
import { ZYGOTE_ROLE } from '../../notebook-server/src/runtime/docker-hosted.ts';
import { LABELS } from '../../notebook-server/src/runtime/types.ts';
import { dockerTestsEnabled } from '../helpers/docker.ts';
import { type Json, startTestHost, type TestHost } from '../helpers/host.ts';
import { runPlanInNewHome, sirLhsPlan } from '../helpers/plan-run.ts';

const enabled = dockerTestsEnabled();

function docker(args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8', timeout: 60_000 }).trim();
}
/** Every container (any state) of this home's pool, claimed or not, per the CLI. */
function poolContainers(home: string): string[] {
  return docker(['ps', '-aq', '--no-trunc', '--filter', `label=${POOL_LABELS.claims}=${claimsDir(home)}`])
    .split('\n')
    .filter(Boolean);
}
/** The shared kernel zygotes (any state) whose folder is in this home. */
function sharedZygotes(home: string): string[] {
  return docker([
    'ps',
    '-a',
    '--filter',
    `label=${LABELS.role}=${ZYGOTE_ROLE}`,
    '--format',
    `{{.ID}} {{.Label "${LABELS.workDir}"}}`,
  ])
    .split('\n')
    .filter((line) => line.split(' ')[1]?.startsWith(`${home}/`))
    .map((line) => line.split(' ')[0]!);
}
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .filter((l) => l.split(' ')[1]?.startsWith(`${dir}/`));
}
function poolSlots(home: string): string[] {
  const dir = join(home, 'docker-pool');
  return existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith('pool-')) : [];
}

describe.skipIf(!enabled)('Docker warm pool (real Docker)', () => {
  let t: TestHost;
  let rt: DockerRuntime;
  const call = (name: string, args: Json) => t.call(name, args);

  beforeAll(async () => {
    t = await startTestHost({ runtime: 'docker' });
    rt = t.host.containers.runtime('docker') as DockerRuntime;
    expect(rt.poolSize).toBeGreaterThan(0);
    expect(await rt.poolReady(2)).toBe(2);
  }, 300_000);

  afterAll(async () => {
    await t?.close();
  }, 300_000);

  it('hands a pooled container over: real id, labels, work dir, a working kernel', async () => {
    const pooled = poolContainers(t.home);
    expect(pooled).toHaveLength(2);
    // Unclaimed pool containers are nobody's experiment: not listed.
    const ours = (await rt.list()).filter((c) => c.work_dir?.startsWith(`${t.home}/`));
    expect(ours).toEqual([]);
    const created = await rt.create({ experiment_id: 'pool-a', labels: { team: 'blue' } });
    const cid = created.container_id;
    expect(pooled).toContain(cid);
    expect(created.work_dir).toBe(join(t.home, 'experiments', 'pool-a', 'work'));
    // The pool's containers carry Docker's default caps, and say so.
    expect(created.caps).toEqual({ cpu: 1, memory_bytes: 2 * 2 ** 30, pids: 512, enforced: true });
    const listed = await rt.list({ team: 'blue' });
    expect(listed.map((c) => c.container_id)).toEqual([cid]);
    expect(listed[0]).toMatchObject({ experiment_id: 'pool-a', name: 'peragus-pool-a', running: true });
    // The same hardening as a cold container.
    const info = JSON.parse(docker(['inspect', cid]))[0];
    expect(info.HostConfig.NetworkMode).toBe('none');
    expect(info.HostConfig.ReadonlyRootfs).toBe(true);
    expect(info.HostConfig.CapDrop).toEqual(['ALL']);
    expect(info.HostConfig.SecurityOpt).toContain('no-new-privileges:true');
    // The host serves the experiment it was handed: its session is pool-a's, in the volume.
    const nb = await call('notebook_create', { name: 'first', container_id: cid });
    expect(nb).toMatchObject({ experiment_id: 'pool-a', work_dir: created.work_dir });
    const cell = await call('cell_add', {
      session_id: nb.session_id,
      source: 'import os; print(os.getcwd(), 6 * 7)',
      execute: true,
    });
    const run = cell.run as { status: string; outputs: { text?: string }[] };
    expect(run.status).toBe('ok');
    expect(run.outputs.map((o) => o.text).join('')).toContain('/experiment 42');
    // Files the experiment writes land in the experiment's own folder on the host.
    await call('container_exec', { container_id: cid, cmd: ['sh', '-c', 'echo hi > /experiment/note.txt'] });
    expect(readFileSync(join(t.home, 'experiments', 'pool-a', 'work', 'note.txt'), 'utf8')).toBe('hi\n');
    // A second create of the same experiment is refused, pool or not.
    const again = await t.callError('container_create', { runtime: 'docker', experiment_id: 'pool-a' });
    expect(again).toMatch(/already has container/);
    expect((await call('container_destroy', { container_id: cid })).removed).toBe(true);
    expect(poolContainers(t.home)).not.toContain(cid);
  }, 300_000);

  it('never hands one container to two concurrent creates', async () => {
    expect(await rt.poolReady(2)).toBe(2);
    const ids = ['con-1', 'con-2', 'con-3', 'con-4'];
    const made = await Promise.all(ids.map((id) => rt.create({ experiment_id: id })));
    const cids = made.map((m) => m.container_id);
    expect(new Set(cids).size).toBe(4);
    expect(made.map((m) => m.experiment_id)).toEqual(ids);
    for (const m of made) {
      const who = await rt.exec(m.container_id, ['cat', '/experiment/.peragus/experiment-id']);
      // Pooled containers know their id from the hand-over; cold ones from their env.
      const envId = await rt.exec(m.container_id, ['sh', '-c', 'echo "$PERAGUS_EXPERIMENT_ID"']);
      expect([who.stdout.trim(), envId.stdout.trim()]).toContain(m.experiment_id);
    }
    for (const m of made) await rt.destroy(m.container_id);
  }, 600_000);

  it('discards a pooled container that died and hands over a live one', async () => {
    expect(await rt.poolReady(2)).toBe(2);
    const [victim] = poolContainers(t.home);
    docker(['kill', victim!]);
    const made = await Promise.all([
      rt.create({ experiment_id: 'after-kill-1' }),
      rt.create({ experiment_id: 'after-kill-2' }),
    ]);
    expect(made.map((m) => m.container_id)).not.toContain(victim);
    for (const m of made) {
      expect((await rt.health(m.container_id)).running).toBe(true);
      await rt.destroy(m.container_id);
    }
    // The dead one is removed, and the pool fills up again.
    expect(await rt.poolReady(2)).toBe(2);
    expect(poolContainers(t.home)).not.toContain(victim);
  }, 600_000);

  it('close drains the pool: no container, volume, mount or folder left', async () => {
    expect(await rt.poolReady(2)).toBe(2);
    await rt.close();
    expect(poolContainers(t.home)).toEqual([]);
    expect(poolSlots(t.home)).toEqual([]);
    expect(mountsUnder(join(t.home, 'docker-pool'))).toEqual([]);
  }, 300_000);
});

describe.skipIf(!enabled)('Docker runtime closed while its pool refills', () => {
  it('removes its shared kernel zygote and starts no other one, nor a pool, after close', async () => {
    const t = await startTestHost({ runtime: 'docker' });
    const rt = t.host.containers.runtime('docker') as DockerRuntime;
    try {
      expect(await rt.poolReady(2)).toBe(2);
      expect(sharedZygotes(t.home)).toHaveLength(1);
      // Both pooled containers are handed over, so the pool refills two, one after the other; the
      // refill starts now, and close comes while the first one is under way.
      const made = await Promise.all([
        rt.create({ experiment_id: 'close-refill-1' }),
        rt.create({ experiment_id: 'close-refill-2' }),
      ]);
      const refilled = rt.poolReady(2);
      await new Promise((r) => setTimeout(r, 100));
      await rt.close();
      await refilled;
      expect(sharedZygotes(t.home)).toEqual([]);
      // A warm-up or a create that outlived close (a late plan step) starts no pool and no shared
      // zygote, which runs privileged: nothing would remove either. The create still works.
      await rt.warm({ creates: 2 });
      const late = await rt.create({ experiment_id: 'after-close' });
      expect(sharedZygotes(t.home)).toEqual([]);
      expect(poolSlots(t.home)).toEqual([]);
      expect((await rt.health(late.container_id)).running).toBe(true);
      for (const m of [...made, late]) await rt.destroy(m.container_id);
      expect(poolContainers(t.home)).toEqual([]);
    } finally {
      await t.close();
    }
  }, 300_000);
});

describe.skipIf(!enabled)('Docker warm pool after a killed host', () => {
  it('sweeps slot folders and claim records whose containers are gone', async () => {
    const home = mkdtempSync(join(tmpdir(), 'peragus-pool-sweep-'));
    const stale = join(home, 'docker-pool', 'pool-0123456789ab', 'work');
    mkdirSync(stale, { recursive: true });
    writeFileSync(join(stale, 'left.txt'), 'x');
    const claim = join(claimsDir(home), `${'e'.repeat(64)}.json`);
    mkdirSync(claimsDir(home), { recursive: true });
    writeFileSync(claim, '{}');
    const rt = new DockerRuntime({ home, poolSize: 1 });
    try {
      expect(await rt.poolReady(1)).toBe(1);
      expect(existsSync(join(home, 'docker-pool', 'pool-0123456789ab'))).toBe(false);
      expect(existsSync(claim)).toBe(false);
      expect(poolSlots(home)).toHaveLength(1);
    } finally {
      await rt.close();
    }
    expect(poolContainers(home)).toEqual([]);
    expect(poolSlots(home)).toEqual([]);
    rmSync(home, { recursive: true, force: true });
  }, 300_000);
});

describe.skipIf(!enabled)('Docker plan with and without the pool', () => {
  const homes: string[] = [];
  afterAll(() => {
    for (const h of homes) rmSync(h, { recursive: true, force: true });
  });

  async function runPlan(pool: string) {
    const docker = (host: Host) => host.containers.runtime('docker') as DockerRuntime;
    const run = await runPlanInNewHome(
      sirLhsPlan('docker'),
      {
        env: { PERAGUS_DOCKER_POOL: pool },
        prefix: 'peragus-pool-plan-',
        homes,
        // A pooled container ready before the plan starts, so the first experiment is handed one
        // whatever the machine's load (a plan also warms the pool, but its check may finish first;
        // how fast the pool fills is the bench's figure, warm_start_p50_docker).
        before: async (host) => (pool === '0' ? undefined : docker(host).poolReady(1)),
      },
      (host) => ({ handedOver: docker(host).handedOver }),
    );
    expect(run.finished).toBe(2);
    return run;
  }

  it('gives byte-identical Parquet, registered under the real experiment ids', async () => {
    const pooled = await runPlan('2');
    const cold = await runPlan('0');
    expect(pooled.handedOver).toBeGreaterThan(0);
    expect(cold.handedOver).toBe(0);
    expect(pooled.rows.map((r) => r.experiment_id)).toEqual(pooled.ids);
    expect(pooled.rows.map((r) => r.sha256)).toEqual(cold.rows.map((r) => r.sha256));
    expect(new Set(pooled.rows.map((r) => r.sha256)).size).toBe(2);
    // The pooled host left nothing behind.
    expect(poolContainers(pooled.home)).toEqual([]);
    expect(poolSlots(pooled.home)).toEqual([]);
  }, 900_000);
});

// Item 11: memory and disk stay bounded. Events kept for resume are dropped
// with their session (host session deleted, container destroyed) and capped
// per session; a plan run on a home whose disk is full ends (no plan left
// "running") and leaves no temp files behind.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statfsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from '../helpers/sd-models.ts';
import { canMount, hostAt, tempFilesUnder, tmpfs } from './helpers.ts';

const mounted = canMount();
const disks: { release(): void }[] = [];
afterAll(() => {
  for (const d of disks) d.release();
});

function disk(mib: number): string {
  const d = tmpfs(mib);
  disks.push(d);
  return d.dir;
}

/** Fills the file system of `dir` until only `leaveKiB` KiB are free. */
function fill(dir: string, leaveKiB: number): string {
  const s = statfsSync(dir);
  const free = s.bavail * s.bsize;
  const file = join(dir, 'filler.bin');
  execFileSync('fallocate', ['-l', String(free - leaveKiB * 1024), file]);
  return file;
}

describe.runIf(mounted)('bounded memory and a full disk', () => {
  it('drops events of deleted sessions and caps what it keeps per session', async () => {
    const t = await hostAt(disk(256), { runtime: 'local' });
    const bus = t.host.notebook.events;
    try {
      const nb = await t.call('notebook_create', { name: 'chatty' });
      const sid = nb.session_id as string;
      // ~8 MB of output in 800 flushed chunks.
      await t.call('cell_add', {
        session_id: sid,
        source: 'import sys\nfor i in range(800):\n    print("x" * 10000, flush=True)',
        execute: true,
      });
      expect(bus.replay(sid).length).toBeGreaterThan(0);
      expect(bus.retained.bytes).toBeLessThanOrEqual(4 * 1024 * 1024 + 64 * 1024);
      await t.call('notebook_delete', { session_id: sid });
      expect(bus.replay(sid)).toEqual([]);

      const c = await t.call('container_create', { experiment_id: 'bounded-c' });
      const inC = await t.call('notebook_create', { name: 'in-c', container_id: c.container_id });
      const csid = inC.session_id as string;
      await t.call('cell_add', { session_id: csid, source: 'print("hello")', execute: true });
      expect(bus.replay(csid).length).toBeGreaterThan(0);
      await t.call('container_destroy', { container_id: c.container_id });
      expect(bus.replay(csid)).toEqual([]);
      expect(bus.retained.sessions).toBe(0);
    } finally {
      await t.close();
    }
  }, 300_000);

  it('local runtime: no file written by experiment code exceeds resources.disk', async () => {
    const t = await hostAt(disk(256), { runtime: 'local' });
    try {
      const c = await t.call('container_create', { experiment_id: 'fsize', resources: { disk: '32m' } });
      const nb = await t.call('notebook_create', { name: 'fsize', container_id: c.container_id });
      const r = await t.call('cell_add', {
        session_id: nb.session_id,
        source: "with open('big.bin', 'wb') as f:\n    f.write(b'0' * (64 * 1024 * 1024))",
        execute: true,
      });
      const run = r.run as { status: string; error?: { evalue: string } };
      expect(run.status).toBe('error');
      expect(run.error?.evalue).toMatch(/File too large/);
      const size = statSync(join(c.work_dir as string, 'big.bin')).size;
      expect(size).toBeLessThanOrEqual(32 * 1024 * 1024);
    } finally {
      await t.close();
    }
  }, 300_000);

  it('a plan on a full disk ends, marked finished, with no temp files', async () => {
    const home = disk(48);
    const t = await hostAt(home, { runtime: 'local' });
    let filler = '';
    try {
      filler = fill(home, 64);
      const r = await t.client.callTool(
        {
          name: 'experiment_plan_run',
          arguments: {
            model: {
              content: readFileSync(join(REPO, 'notebooks/models/sir.mdl'), 'utf8'),
              source: 'sir.mdl',
            },
            experiment: { type: 'monte_carlo', samples: 50, seed: 1, parameters: { 'Contact Rate': [2, 9] } },
            targets: [{ Infectivity: 0.05 }, { Infectivity: 0.08 }],
            parallel_limit: 2,
            retries: 0,
          },
        },
        undefined,
        { timeout: 600_000, resetTimeoutOnProgress: true },
      );
      const text = JSON.stringify(r);
      expect(text).toMatch(/ENOSPC|no space/i);
      const plans = readdirSync(join(home, 'plans')).filter((f) => f.endsWith('.json'));
      expect(plans.length).toBeGreaterThan(0);
      for (const p of plans) {
        const state = JSON.parse(readFileSync(join(home, 'plans', p), 'utf8')) as { status: string };
        expect(state.status).not.toBe('running');
      }
      expect(tempFilesUnder(home)).toEqual([]);
    } finally {
      if (filler) rmSync(filler, { force: true });
      await t.close();
    }
    expect(tempFilesUnder(home)).toEqual([]);
  }, 600_000);
});

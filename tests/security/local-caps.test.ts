// CPU, memory and pids caps for local experiments (runtime/local-cgroups.ts): a root host makes a
// cgroup per sandbox, every process of the experiment runs in it (the kernel the zygote forks,
// container_exec's commands, a restarted kernel), and experiment code cannot leave it or raise
// its caps. Run for real: bubblewrap, the kernel zygote and the machine's cgroup v1 hierarchies.
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgroupSupport, removeStaleCgroups } from '../../notebook-server/src/runtime/local-cgroups.ts';
import { localIsolation } from '../../notebook-server/src/sandbox/bwrap.ts';
import { type Json, startTestHost, type TestHost } from '../helpers/host.ts';

const support = cgroupSupport();
const why =
  localIsolation().isolation !== 'bubblewrap'
    ? 'bubblewrap cannot sandbox here'
    : 'reason' in support
      ? support.reason
      : null;
if (why) {
  if (process.env.CI) throw new Error(`the local caps tests must run in CI, but ${why}`);
  process.stderr.write(`\n!!! local caps tests SKIPPED: ${why} !!!\n\n`);
}
const bases = 'bases' in support ? support.bases : {};

/** The sandbox's cgroup folder in a hierarchy. */
const dirOf = (controller: 'memory' | 'cpu' | 'pids', id: string) =>
  join(bases[controller] as string, `peragus-${id}`);

/**
 * A process's memory, cpu and pids cgroups as it sees them in the sandbox's cgroup namespace, whose
 * root is the sandbox's cgroup: "/" in it, a path up out of it ("/..") when left outside.
 */
const own = (listing: string) =>
  listing
    .split('\n')
    .filter((l) => /^\d+:(memory|cpu|pids):/.test(l))
    .map((l) => l.split(':')[2]);

type Run = { status: string; outputs: { text?: string }[]; error?: { evalue: string } };
const MiB = 2 ** 20;

// Both ways a local experiment's sessions are served: by the host (the kernel forked into the
// sandbox, the default) and by a node role inside it (its kernels cold, under the node).
describe.skipIf(why !== null).each(['host', 'node'])(
  'caps on local experiments (sessions served by the %s)',
  (mode) => {
    let t: TestHost;
    const saved = process.env.PERAGUS_LOCAL_SESSIONS;
    let cid = '';
    let sid = '';
    const run = async (source: string) =>
      (await t.call('cell_add', { session_id: sid, source, execute: true })).run as Run;
    const text = (r: Run) => r.outputs.map((o) => o.text ?? '').join('');

    beforeAll(async () => {
      process.env.PERAGUS_LOCAL_SESSIONS = mode;
      t = await startTestHost({ runtime: 'local' });
      const made = await t.call('container_create', {
        experiment_id: 'capped',
        resources: { cpu: 0.5, memory: '256m', pids: 64 },
      });
      expect(made.caps).toEqual({ cpu: 0.5, memory_bytes: 256 * MiB, pids: 64, enforced: true });
      cid = made.container_id as string;
      sid = (await t.call('notebook_create', { name: 'capped', container_id: cid })).session_id as string;
    }, 300_000);
    afterAll(async () => {
      await t?.close();
      if (saved === undefined) delete process.env.PERAGUS_LOCAL_SESSIONS;
      else process.env.PERAGUS_LOCAL_SESSIONS = saved;
    });

    it('puts the kernel and container_exec commands in the sandbox cgroups, with their caps', async () => {
      const kernel = text(await run('print(open("/proc/self/cgroup").read())'));
      expect(own(kernel)).toEqual(['/', '/', '/']);
      const cmd = (await t.call('container_exec', {
        container_id: cid,
        cmd: ['cat', '/proc/self/cgroup'],
      })) as {
        stdout: string;
      };
      expect(own(cmd.stdout)).toEqual(['/', '/', '/']);
      // From the host: the kernel (forked by the zygote) and an exec'd command are members.
      expect(readFileSync(join(dirOf('memory', cid), 'memory.limit_in_bytes'), 'utf8').trim()).toBe(
        String(256 * MiB),
      );
      expect(readFileSync(join(dirOf('pids', cid), 'pids.max'), 'utf8').trim()).toBe('64');
      expect(readFileSync(join(dirOf('cpu', cid), 'cpu.cfs_quota_us'), 'utf8').trim()).toBe('50000');
      const exec = (await t.call('container_exec', {
        container_id: cid,
        cmd: ['sh', '-c', 'sleep 5 & echo started'],
      })) as { exit_code: number };
      expect(exec.exit_code).toBe(0);
      const members = readFileSync(join(dirOf('pids', cid), 'cgroup.procs'), 'utf8');
      expect(members.split('\n').length).toBeGreaterThanOrEqual(3); // holder, kernel, sleep
      const stats = await t.call('container_stats', { container_id: cid });
      expect(stats).toMatchObject({ memory_limit_bytes: 256 * MiB, pids_limit: 64 });
      expect(stats.pids as number).toBeGreaterThanOrEqual(2);
      expect(stats.memory_usage_bytes as number).toBeGreaterThan(0);
    }, 120_000);

    it('cannot leave its cgroups or raise its caps', async () => {
      const tries = [
        '/sys/fs/cgroup/memory/cgroup.procs',
        '/sys/fs/cgroup/pids/cgroup.procs',
        '/sys/fs/cgroup/memory/memory.limit_in_bytes',
        `${dirOf('memory', cid)}/memory.limit_in_bytes`,
        `${dirOf('pids', cid)}/pids.max`,
        `${dirOf('cpu', cid)}/cpu.cfs_quota_us`,
      ];
      const r = await run(
        [
          'import os, json',
          'done = []',
          `for p in ${JSON.stringify(tries)}:`,
          '    try:',
          '        with open(p, "w") as f: f.write(str(os.getpid()) if p.endswith("procs") else "-1")',
          '        done.append(p)',
          '    except OSError:',
          '        pass',
          'print(json.dumps(done))',
        ].join('\n'),
      );
      expect(r.status).toBe('ok');
      expect(JSON.parse(text(r))).toEqual([]);
      expect(readFileSync(join(dirOf('pids', cid), 'pids.max'), 'utf8').trim()).toBe('64');
      expect(readFileSync(join(dirOf('cpu', cid), 'cpu.cfs_quota_us'), 'utf8').trim()).toBe('50000');
    }, 120_000);

    it('holds a process flood to the pids cap, and the kernel runs on', async () => {
      const r = await run(
        [
          'import subprocess',
          'ps, err = [], None',
          'try:',
          '    for _ in range(300): ps.append(subprocess.Popen(["sleep", "60"]))',
          'except OSError as e:',
          '    err = e.errno',
          'for p in ps: p.kill()',
          'for p in ps: p.wait()',
          'print(len(ps), err)',
        ].join('\n'),
      );
      expect(r.status).toBe('ok');
      const [started, errno] = text(r).trim().split(' ');
      expect(Number(started)).toBeLessThan(64);
      expect(errno).toBe('11'); // EAGAIN: fork refused at the cap
      expect(text(await run('print(6 * 7)')).trim()).toBe('42');
    }, 120_000);

    it('holds the kernel to its CPU quota', async () => {
      const stat = () =>
        Object.fromEntries(
          readFileSync(join(dirOf('cpu', cid), 'cpu.stat'), 'utf8')
            .trim()
            .split('\n')
            .map((l) => l.split(' ') as [string, string])
            .map(([k, v]) => [k, Number(v)]),
        ) as Record<string, number>;
      const before = stat();
      // One CPU-second of work: at 0.5 of a core it cannot take less than 2 s of wall time, however
      // idle the machine (uncapped, with a core free, it takes 1 s; a loaded machine only slows it).
      const r = await run(
        [
          'import time',
          'w, c = time.time(), time.process_time()',
          'while time.process_time() - c < 1.0: pass',
          'print(time.time() - w)',
        ].join('\n'),
      );
      expect(Number(text(r))).toBeGreaterThanOrEqual(1.9);
      const after = stat();
      expect(after.nr_throttled! - before.nr_throttled!).toBeGreaterThanOrEqual(1);
    }, 120_000);

    it('OOM-kills at the memory cap, names the cap, and a restarted kernel is capped again', async () => {
      // Bounded: an uncapped kernel stops at 1 GiB and says so, instead of filling the machine.
      const hog =
        'blocks = []\nfor _ in range(32):\n    blocks.append(bytearray(32 * 1024 * 1024))\nprint("survived")';
      const r = await run(hog);
      expect(r.status).toBe('error');
      expect(r.error?.evalue).toMatch(/out-of-memory killer.*memory cap of 256 MiB.*resources\.memory/);
      const health = await t.call('container_health', { container_id: cid });
      expect(health).toMatchObject({ running: true, oom_killed: true });
      expect(health.oom_kill_count as number).toBeGreaterThanOrEqual(1);
      await t.call('notebook_restart', { session_id: sid });
      expect(text(await run('print(6 * 7)')).trim()).toBe('42');
      const again = await run(hog);
      expect(again.status).toBe('error');
      expect(again.error?.evalue).toMatch(/memory cap of 256 MiB/);
      expect(
        (await t.call('container_health', { container_id: cid })).oom_kill_count as number,
      ).toBeGreaterThanOrEqual((health.oom_kill_count as number) + 1);
    }, 300_000);

    it('removes its cgroups, and every process in them, when the container goes', async () => {
      await t.call('container_destroy', { container_id: cid });
      for (const c of ['memory', 'cpu', 'pids'] as const) expect(existsSync(dirOf(c, cid))).toBe(false);
    }, 120_000);

    it("gives defaults when none are named, and a host session's kernel the same caps", async () => {
      const made = await t.call('container_create', { experiment_id: 'default-caps' });
      expect(made.caps).toEqual({ cpu: 1, memory_bytes: 2 * 2 ** 30, pids: 512, enforced: true });
      expect(
        readFileSync(
          join(dirOf('memory', made.container_id as string), 'memory.limit_in_bytes'),
          'utf8',
        ).trim(),
      ).toBe(String(2 * 2 ** 30));
      await t.call('container_destroy', { container_id: made.container_id });

      // A notebook with no container: its kernel's own sandbox gets a cgroup of its own.
      const kernelGroups = () =>
        readdirSync(bases.memory as string)
          .filter((n) => n.startsWith('peragus-kernel-'))
          .map((n) => n.slice('peragus-'.length));
      const before = kernelGroups();
      const nb = (await t.call('notebook_create', { name: 'hosted', experiment_id: 'hosted-caps' })) as Json;
      const r = (await t.call('cell_add', {
        session_id: nb.session_id,
        source: 'print(open("/proc/self/cgroup").read())',
        execute: true,
      })) as {
        run: Run;
      };
      expect(r.run.status).toBe('ok');
      expect(own(text(r.run))).toEqual(['/', '/', '/']);
      const made2 = kernelGroups().filter((n) => !before.includes(n));
      expect(made2).toHaveLength(1);
      const group = made2[0] as string;
      expect(readFileSync(join(dirOf('memory', group), 'memory.limit_in_bytes'), 'utf8').trim()).toBe(
        String(2 * 2 ** 30),
      );
      expect(readFileSync(join(dirOf('pids', group), 'pids.max'), 'utf8').trim()).toBe('512');
      expect(readFileSync(join(dirOf('pids', group), 'cgroup.procs'), 'utf8').trim()).not.toBe('');
      await t.call('notebook_delete', { session_id: nb.session_id });
      for (const c of ['memory', 'cpu', 'pids'] as const) expect(existsSync(dirOf(c, group))).toBe(false);
    }, 120_000);

    it('removes the empty cgroups a dead host left, and nothing else', () => {
      const base = bases.pids as string;
      const left = join(base, 'peragus-local-00000000dead');
      const fresh = join(base, 'peragus-local-00000000beef');
      const busy = join(base, 'peragus-local-00000000cafe');
      const other = join(base, 'peragus-not-a-sandbox');
      for (const d of [left, fresh, busy, other]) mkdirSync(d);
      const sleeper = spawn('sleep', ['30']);
      try {
        writeFileSync(join(busy, 'cgroup.procs'), String(sleeper.pid));
        const old = new Date(Date.now() - 10 * 60_000);
        for (const d of [left, busy, other]) utimesSync(d, old, old);
        removeStaleCgroups(support);
        expect([left, fresh, busy, other].map(existsSync)).toEqual([false, true, true, true]);
      } finally {
        sleeper.kill('SIGKILL');
      }
      for (const d of [fresh, busy, other]) {
        for (let i = 0; i < 100 && existsSync(d); i++) {
          try {
            rmdirSync(d);
          } catch {
            spawnSync('sleep', ['0.05']);
          }
        }
      }
    });
  },
);

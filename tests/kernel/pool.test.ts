// Warm pool: kernels with PySD imported, handed out in milliseconds.
import { mkdtempSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { KernelClient } from '../../notebook-server/src/kernel/client.ts';
import { KernelPool } from '../../notebook-server/src/kernel/pool.ts';

describe('KernelPool', () => {
  const pool = new KernelPool({ size: 1 });
  const acquired: KernelClient[] = [];
  afterAll(async () => {
    await pool.shutdown();
    await Promise.all(acquired.map((k) => k.shutdown()));
  });

  it('acquire() hands out a ready kernel in the work dir within milliseconds, and refills', async () => {
    await pool.whenFull();
    expect(pool.stats).toMatchObject({ idle: 1, starting: 0 });
    const workDir = realpathSync(mkdtempSync(join(tmpdir(), 'peragus pool ü-')));
    const t0 = performance.now();
    const kernel = await pool.acquire({ workDir, env: { PERAGUS_EXPERIMENT: 'exp-1' } });
    const elapsed = performance.now() - t0;
    acquired.push(kernel);
    expect(elapsed).toBeLessThan(200);
    expect(kernel.status).toBe('idle');
    expect(pool.stats.starting).toBe(1);
    const r = await kernel.execute(
      'import os, sys\nprint(os.getcwd()); print(os.environ["PERAGUS_EXPERIMENT"]); print("pysd" in sys.modules)',
    );
    expect(r.outputs[0]).toMatchObject({ text: `${workDir}\nexp-1\nTrue\n` });
    // The chdir cell was silent: the user's first cell is execution 1.
    expect(r.executionCount).toBe(1);
    await pool.whenFull();
    expect(pool.stats.idle).toBe(1);
  });

  it('waits for the next kernel when the pool is empty, and reports a bad work dir', async () => {
    const a = await pool.acquire({ workDir: tmpdir() });
    acquired.push(a);
    const b = await pool.acquire({ workDir: tmpdir() });
    acquired.push(b);
    expect(b.id).not.toBe(a.id);
    await expect(pool.acquire({ workDir: '/nonexistent/peragus' })).rejects.toThrow(/does not exist/);
    expect(pool.stats.idle + pool.stats.starting).toBe(1);
  });

  it('replaces a pooled kernel that dies while idle', async () => {
    await pool.whenFull();
    const stats = pool.stats;
    expect(stats.idle).toBe(1);
    // Reach into the pool for the idle kernel's pid: kill it from outside.
    const [idle] = pool.idleKernels;
    process.kill(idle?.pid as number, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 1_000));
    await pool.whenFull();
    const k = await pool.acquire({ workDir: tmpdir() });
    acquired.push(k);
    expect(k.id).not.toBe(idle?.id);
    expect((await k.execute('1')).status).toBe('ok');
  });

  it('rejects acquire() after shutdown()', async () => {
    await pool.shutdown();
    await expect(pool.acquire({ workDir: tmpdir() })).rejects.toThrow(/shut down/);
  });
});

describe('KernelPool with maxStarts (one experiment per node)', () => {
  it('pre-starts one kernel, does not refill, and later acquires start cold', async () => {
    const pool = new KernelPool({ size: 1, maxStarts: 1 });
    const kernels: KernelClient[] = [];
    try {
      await pool.whenFull();
      kernels.push(await pool.acquire({ workDir: tmpdir() }));
      // No refill: nothing burns CPU beside the experiment's kernel.
      expect(pool.stats).toMatchObject({ idle: 0, starting: 0 });
      const second = await pool.acquire({ workDir: tmpdir() });
      kernels.push(second);
      expect((await second.execute('1 + 1')).status).toBe('ok');
      expect(pool.stats).toMatchObject({ idle: 0, starting: 0 });
    } finally {
      await pool.shutdown();
      await Promise.all(kernels.map((k) => k.shutdown()));
    }
  });
});

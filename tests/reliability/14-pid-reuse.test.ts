// A local container's record names its first process by pid and start time: when that process has
// ended and its pid names another process by now (pids wrap around: CI here reached pid 343
// again within minutes), destroying the old container must not signal the newcomer, and nothing
// reports the old container as running.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../notebook-server/src/proc/process.ts';
import { LocalRuntime } from '../../notebook-server/src/runtime/local.ts';

describe('a local container whose pid was reused', () => {
  const home = mkdtempSync(join(tmpdir(), 'peragus-pid-reuse-'));
  const rt = new LocalRuntime({ home });
  afterAll(async () => {
    await rt.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('is not running, and destroying it leaves the process that has its pid now alone', async () => {
    const made = await rt.create({ experiment_id: 'reused', command: ['sleep', '60'] });
    const file = join(home, 'local-containers', `${made.container_id}.json`);
    const record = JSON.parse(readFileSync(file, 'utf8')) as { pid: number; pid_start?: number };
    expect(record.pid_start).toBeGreaterThan(0);
    expect((await rt.list()).find((c) => c.container_id === made.container_id)?.running).toBe(true);
    // Its sandbox ends, and another process (its own process group, as a sandbox's is) now has
    // the pid the record names: what a wrapped-around pid looks like.
    process.kill(-record.pid, 'SIGKILL');
    // A start time counts clock ticks (10 ms): a pid comes round again only after a whole cycle of
    // pids, so a real newcomer always starts ticks later; this one must too.
    await new Promise((r) => setTimeout(r, 50));
    const newcomer = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
    const pid = newcomer.pid as number;
    writeFileSync(file, JSON.stringify({ ...record, pid }));
    try {
      expect((await rt.list()).find((c) => c.container_id === made.container_id)?.running).toBe(false);
      expect((await rt.health(made.container_id)).running).toBe(false);
      await expect(rt.exec(made.container_id, ['true'])).rejects.toThrow(/is not running/);
      expect(await rt.destroy(made.container_id)).toEqual({ removed: true });
      await new Promise((r) => setTimeout(r, 300));
      expect(isAlive(pid)).toBe(true);
      expect(newcomer.exitCode).toBeNull();
    } finally {
      newcomer.kill('SIGKILL');
    }
  }, 120_000);
});

// Kernel lifecycle against real processes: death, heartbeat loss, restart,
// shutdown, and kernels that never become ready.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KernelClient } from '../../notebook-server/src/kernel/client.ts';
import { KernelDeadError, KernelStartError } from '../../notebook-server/src/kernel/errors.ts';
import { type KernelSpec, loadKernelSpec } from '../../notebook-server/src/kernel/launcher.ts';
import { startKernel } from '../../notebook-server/src/kernel/start.ts';

const alive = (pid: number | undefined) => {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const fakeSpec = (code: string): KernelSpec => ({
  ...loadKernelSpec(),
  argv: ['{python}', '-c', code, '{connection_file}'],
});

describe('kernel death and restart', () => {
  let kernel: KernelClient;
  beforeAll(async () => {
    // A fast heartbeat so the hang test below is quick.
    kernel = await startKernel({ heartbeat: { intervalMs: 300, maxMisses: 4 } });
  });
  afterAll(async () => {
    await kernel?.shutdown();
  });

  it('reports a kernel that kills itself as dead within 3 s, with a clear error, and restarts', async () => {
    const dead = new Promise<{ reason: string; at: number }>((resolve) =>
      kernel.once('dead', (reason: string) => resolve({ reason, at: performance.now() })),
    );
    const t0 = performance.now();
    // ipykernel relays fd 2 through a thread; give it a moment before dying.
    const running = kernel.execute(
      'import os, sys, time\nprint("bye", file=sys.__stderr__, flush=True)\ntime.sleep(0.3)\nos._exit(1)',
    );
    await expect(running).rejects.toBeInstanceOf(KernelDeadError);
    await expect(running).rejects.toThrow(/exit code 1/);
    const { reason, at } = await dead;
    expect(at - t0).toBeLessThan(3_000);
    expect(reason).toMatch(/exit code 1/);
    expect(kernel.status).toBe('dead');
    expect(kernel.stderrTail()).toContain('bye');
    await expect(kernel.execute('1')).rejects.toBeInstanceOf(KernelDeadError);

    await kernel.restart();
    expect(kernel.status).toBe('idle');
    const r = await kernel.execute('1+1');
    expect(r.outputs[0]).toMatchObject({ data: { 'text/plain': '2' } });
  });

  it('declares a hung kernel (no heartbeat) dead and kills it', async () => {
    const pid = kernel.pid as number;
    const dead = new Promise<string>((resolve) => kernel.once('dead', resolve));
    process.kill(pid, 'SIGSTOP');
    const reason = await dead;
    expect(reason).toMatch(/heartbeat/);
    expect(kernel.stats.heartbeatMisses).toBeGreaterThanOrEqual(4);
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(pid)).toBe(false);
    await kernel.restart();
    expect((await kernel.execute('3')).status).toBe('ok');
  });

  it('shutdown() stops the process, removes the connection file and is idempotent', async () => {
    const pid = kernel.pid;
    const file = kernel.connectionFile as string;
    expect(existsSync(file)).toBe(true);
    await Promise.all([kernel.shutdown(), kernel.shutdown()]);
    await kernel.shutdown();
    expect(kernel.status).toBe('dead');
    expect(alive(pid)).toBe(false);
    expect(existsSync(file)).toBe(false);
    await expect(kernel.execute('1')).rejects.toThrow(/shut down/);
  });
});

describe('shutdown racing a restart', () => {
  it('leaves no process behind', async () => {
    const kernel = await startKernel();
    const first = kernel.pid;
    const restarting = kernel.restart().catch((e: unknown) => e);
    await kernel.shutdown();
    expect(await restarting).toBeInstanceOf(Error);
    expect(kernel.status).toBe('dead');
    await new Promise((r) => setTimeout(r, 300));
    expect(alive(first)).toBe(false);
    expect(alive(kernel.pid)).toBe(false);
  });
});

describe('kernels that never become ready', () => {
  it('times out with the kernel stderr tail in the error', async () => {
    const spec = fakeSpec(
      'import sys, time\nsys.stderr.write("peragus-test: stuck before ready\\n"); sys.stderr.flush()\ntime.sleep(60)',
    );
    const t0 = performance.now();
    const err = await startKernel({ spec, readyTimeoutMs: 1_500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelStartError);
    expect((err as KernelStartError).message).toMatch(/did not become ready within 1500 ms/);
    expect((err as KernelStartError).stderrTail).toContain('peragus-test: stuck before ready');
    expect(performance.now() - t0).toBeLessThan(8_000);
  });

  it('fails fast with the stderr tail when the process exits before ready', async () => {
    const spec = fakeSpec('import sys\nsys.exit("peragus-test: cannot start")');
    const t0 = performance.now();
    const err = await startKernel({ spec }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelStartError);
    expect((err as Error).message).toMatch(/exit code 1.*before it was ready/);
    expect((err as Error).message).toContain('peragus-test: cannot start');
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  it('names a missing interpreter', async () => {
    const spec: KernelSpec = {
      ...loadKernelSpec(),
      argv: ['/nonexistent/python', '-f', '{connection_file}'],
    };
    const err = await startKernel({ spec }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelStartError);
    expect((err as Error).message).toContain('/nonexistent/python');
  });

  it('rejects a working directory that does not exist', async () => {
    await expect(startKernel({ workDir: '/nonexistent/peragus' })).rejects.toThrow(/does not exist/);
    expect(existsSync('/nonexistent/peragus')).toBe(false);
  });
});

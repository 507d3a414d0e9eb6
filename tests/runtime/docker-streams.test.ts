// Docker API streams are closed on every path out: copying out many artifacts,
// failed copies, exec (also timed out), logs, stats and health leave no
// docker.sock connection open. A counting proxy in front of the daemon's
// socket sees exactly this runtime's connections, whatever else uses the
// shared daemon.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerRuntime } from '../../notebook-server/src/runtime/docker.ts';
import type { CreateResult } from '../../notebook-server/src/runtime/types.ts';
import { dockerTestsEnabled } from '../helpers/docker.ts';
import { type SocketProxy, startSocketProxy } from '../helpers/socket-proxy.ts';

const enabled = dockerTestsEnabled();
const run = randomBytes(4).toString('hex');
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');
// Idle keep-alive sockets close after Node's agent timeout (5 s); allow for load.
const SETTLE_MS = 20_000;
const PARALLEL = 4;

/** Runs fn over items with at most `limit` in flight. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

describe.skipIf(!enabled)('Docker API streams are closed (real Docker)', () => {
  let home: string;
  let proxy: SocketProxy;
  let rt: DockerRuntime;
  let box: CreateResult;
  const labels = { 'test-run': `streams-${run}` };

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'peragus-streams-'));
    proxy = await startSocketProxy();
    rt = new DockerRuntime({ home, docker: new Docker({ socketPath: proxy.path }) });
    box = await rt.create({
      experiment_id: `streams-${run}`,
      command: ['sleep', 'infinity'],
      resources: { cpu: 0.5, memory: '256m', pids: 128 },
      labels,
    });
  });

  afterAll(async () => {
    if (rt) for (const c of await rt.list(labels)) await rt.destroy(c.container_id, { removeWorkDir: true });
    await proxy?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('copies out 200 artifacts with bounded connections, all closed afterwards', async () => {
    const made = await rt.exec(box.container_id, [
      'sh',
      '-c',
      // 1-20 KB, the sizes of a run's parquet and notebook: the daemon sends the
      // archive's trailing blocks apart, and a reader that stops at the file's
      // end left them (and the connection) hanging.
      'mkdir -p arts && for i in $(seq 1 200); do head -c $((1000 + i * 97)) /dev/urandom > arts/a$i.bin; done && sha256sum arts/*.bin',
    ]);
    expect(made.exit_code).toBe(0);
    await proxy.waitOpenAtMost(PARALLEL, SETTLE_MS);
    proxy.resetPeak();
    const before = proxy.total();

    const inside = new Map(
      made.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/).reverse() as [string, string]),
    );
    const names = Array.from({ length: 200 }, (_, i) => `arts/a${i + 1}.bin`);
    const outs = await pool(names, PARALLEL, (n) =>
      rt.cpOut(box.container_id, n, join(home, n.replace('/', '-'))),
    );
    outs.forEach((o, i) => {
      expect(o).toMatchObject({ sha256: inside.get(names[i]!), bytes: 1000 + (i + 1) * 97 });
      expect(sha256(readFileSync(o.path))).toBe(o.sha256);
    });
    // Each copy is an inspect plus an archive request: many connections over
    // the run, never more open at once than the copies in flight (plus slack
    // for a socket the agent is still closing).
    expect(proxy.total() - before).toBeGreaterThan(0);
    expect(proxy.peak()).toBeLessThanOrEqual(2 * PARALLEL);
    await proxy.waitOpenAtMost(0, SETTLE_MS);
  });

  it('failed copies, exec (also timed out), logs, stats and health leave nothing open', async () => {
    await rt.exec(box.container_id, [
      'sh',
      '-c',
      'mkdir -p d/sub && echo x > d/f && ln -sf /etc/passwd link',
    ]);
    await proxy.waitOpenAtMost(PARALLEL, SETTLE_MS);
    const hostFile = join(home, 'in.bin');
    writeFileSync(hostFile, randomBytes(200_000));
    proxy.resetPeak();
    for (let i = 0; i < 15; i++) {
      await expect(rt.cpOut(box.container_id, 'd')).rejects.toMatchObject({ code: 'copy_failed' });
      await expect(rt.cpOut(box.container_id, 'link')).rejects.toMatchObject({ code: 'copy_failed' });
      await expect(rt.cpOut(box.container_id, `missing-${i}`)).rejects.toMatchObject({
        code: 'file_not_found',
      });
      await rt.cpIn(box.container_id, `in/${i}.bin`, { path: hostFile });
      expect((await rt.exec(box.container_id, ['sh', '-c', 'echo hi; echo err >&2'])).stdout).toBe('hi\n');
      await rt.logs(box.container_id, { tail: 5 });
      await rt.stats(box.container_id);
      await rt.health(box.container_id);
    }
    const slow = await rt.exec(box.container_id, ['sleep', '30'], { timeoutMs: 300 });
    expect(slow.timed_out).toBe(true);
    expect(proxy.peak()).toBeLessThanOrEqual(2 * PARALLEL);
    await proxy.waitOpenAtMost(0, SETTLE_MS);
  });
});

// Isolation and API tests against a real Docker daemon and the experiment
// image. Without Docker they are skipped loudly; in CI (env CI set) they fail.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerRuntime } from '../../notebook-server/src/runtime/docker.ts';
import type { CreateResult } from '../../notebook-server/src/runtime/types.ts';
import { dockerTestsEnabled } from '../helpers/docker.ts';
import { runtimeFailure } from '../helpers/runtime-failure.ts';

const enabled = dockerTestsEnabled();
const run = randomBytes(4).toString('hex');
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** Container ids (any state) carrying a label, straight from the CLI as a second opinion. */
function dockerPs(label: string): string[] {
  return execFileSync('docker', ['ps', '-aq', '--filter', `label=${label}`], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
}

describe.skipIf(!enabled)('DockerRuntime (real Docker)', () => {
  let home: string;
  let rt: DockerRuntime;
  let box: CreateResult;
  const labels = { 'test-run': run };

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'peragus-docker-'));
    rt = new DockerRuntime({ home });
    box = await rt.create({
      experiment_id: `rt-${run}`,
      command: ['sleep', 'infinity'],
      resources: { cpu: 0.5, memory: '256m', pids: 128 },
      env: { GREETING: 'hi there' },
      labels,
    });
  });

  afterAll(async () => {
    if (!rt) return;
    for (const c of await rt.list(labels)) await rt.destroy(c.container_id);
    rmSync(home, { recursive: true, force: true });
  });

  it('creates a labelled container with its volume on the host', async () => {
    expect(box.container_id).toMatch(/^[0-9a-f]{64}$/);
    expect(box.caps).toEqual({ cpu: 0.5, memory_bytes: 256 * 2 ** 20, pids: 128, enforced: true });
    expect(box.work_dir).toBe(join(home, 'experiments', `rt-${run}`, 'work'));
    expect(box.endpoint).toBe(join(box.work_dir, '.peragus', 'node.sock'));
    expect(box.image_id).toMatch(/^sha256:/);
    const listed = await rt.list({ 'peragus.experiment_id': `rt-${run}` });
    expect(listed.map((c) => c.container_id)).toEqual([box.container_id]);
    expect(listed[0]).toMatchObject({ running: true, experiment_id: `rt-${run}`, work_dir: box.work_dir });
    const env = await rt.exec(box.container_id, ['sh', '-c', 'echo "$GREETING|$PERAGUS_EXPERIMENT_ID|$PWD"']);
    expect(env.stdout.trim()).toBe(`hi there|rt-${run}|/experiment`);
  });

  it('has no network: only loopback, and outbound connects fail', async () => {
    const ifaces = await rt.exec(box.container_id, ['ls', '/sys/class/net']);
    expect(ifaces.stdout.split(/\s+/).filter(Boolean)).toEqual(['lo']);
    const probe = `
import socket, sys
for host in ("172.17.0.1", "1.1.1.1", "deb.debian.org"):
    try:
        socket.create_connection((host, 80), timeout=3).close()
        print("CONNECTED", host); sys.exit(1)
    except OSError as e:
        print("refused", host, type(e).__name__)
`;
    const res = await rt.exec(box.container_id, ['python3', '-c', probe]);
    expect(res.exit_code).toBe(0);
    expect(res.stdout).not.toContain('CONNECTED');
    expect(res.stdout.match(/refused/g)).toHaveLength(3);
  });

  it('has a read-only root filesystem, a writable /tmp and a writable /experiment', async () => {
    for (const target of ['/etc/peragus-test', '/usr/local/x', '/opt/peragus/app/x']) {
      const res = await rt.exec(box.container_id, ['touch', target]);
      expect(res.exit_code).not.toBe(0);
      expect(res.stderr).toMatch(/Read-only file system/);
    }
    expect((await rt.exec(box.container_id, ['touch', '/tmp/ok'])).exit_code).toBe(0);
    expect((await rt.exec(box.container_id, ['touch', '/experiment/ok'])).exit_code).toBe(0);
    expect(existsSync(join(box.work_dir, 'ok'))).toBe(true);
  });

  it('runs as a non-root user with no capabilities and no-new-privileges', async () => {
    const id = await rt.exec(box.container_id, ['id', '-u']);
    expect(Number(id.stdout.trim())).toBeGreaterThan(0);
    const status = (await rt.exec(box.container_id, ['cat', '/proc/self/status'])).stdout;
    expect(status).toMatch(/^CapEff:\s+0000000000000000$/m);
    expect(status).toMatch(/^CapBnd:\s+0000000000000000$/m);
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    // su would need privileges it cannot gain.
    const su = await rt.exec(box.container_id, ['sh', '-c', 'su -c id root </dev/null']);
    expect(su.exit_code).not.toBe(0);
  });

  it('exec: demuxed stdout/stderr, exit codes, cwd, timeouts', async () => {
    const res = await rt.exec(box.container_id, ['sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(res).toMatchObject({
      exit_code: 3,
      stdout: 'out\n',
      stderr: 'err\n',
      timed_out: false,
      truncated: false,
    });

    await rt.exec(box.container_id, ['mkdir', '-p', 'sub']);
    expect((await rt.exec(box.container_id, ['pwd'], { cwd: 'sub' })).stdout.trim()).toBe('/experiment/sub');
    await expect(rt.exec(box.container_id, ['pwd'], { cwd: '../etc' })).rejects.toMatchObject({
      code: 'invalid_path',
    });

    const big = await rt.exec(box.container_id, ['head', '-c', '300000', '/dev/zero'], {
      maxOutputBytes: 1000,
    });
    expect(big.stdout.length).toBe(1000);
    expect(big.truncated).toBe(true);

    const t0 = performance.now();
    const slow = await rt.exec(box.container_id, ['sh', '-c', 'sleep 30 | cat; echo never'], {
      timeoutMs: 500,
    });
    expect(slow).toMatchObject({ timed_out: true, exit_code: 124 });
    expect(performance.now() - t0).toBeLessThan(10_000);
    // the killed process is gone
    const ps = await rt.exec(box.container_id, [
      'sh',
      '-c',
      'ls /proc | grep -E "^[0-9]+$" | while read p; do cat /proc/$p/cmdline 2>/dev/null | tr "\\0" " "; echo; done',
    ]);
    expect(ps.stdout).not.toMatch(/sleep 30/);
  });

  it('exec of a missing binary is a clear error', async () => {
    const err = await runtimeFailure(rt.exec(box.container_id, ['no-such-binary', '--flag']));
    expect(err.code).toBe('exec_failed');
    expect(err.message).toMatch(/cannot run "no-such-binary"/);
    expect(err.message).toMatch(/not found/);
    // A shell reporting 127 itself is an ordinary result, not an error.
    const viaShell = await rt.exec(box.container_id, ['sh', '-c', 'no-such-binary']);
    expect(viaShell.exit_code).toBe(127);
  });

  it('copies in and out: content, host files, nested folders, checksums', async () => {
    const text = 'time,stock\n0,100\n1,90\n';
    const copied = await rt.cpIn(box.container_id, 'inputs/model/data.csv', { content: text });
    expect(copied).toEqual({ path: 'inputs/model/data.csv', sha256: sha256(text), bytes: text.length });
    const inside = await rt.exec(box.container_id, ['sha256sum', '/experiment/inputs/model/data.csv']);
    expect(inside.stdout.split(' ')[0]).toBe(sha256(text));
    const owner = await rt.exec(box.container_id, ['stat', '-c', '%u %a', 'inputs/model/data.csv']);
    expect(owner.stdout.trim()).toBe(`${(await rt.exec(box.container_id, ['id', '-u'])).stdout.trim()} 644`);

    const blob = randomBytes(3 * 2 ** 20 + 17);
    const src = join(home, 'blob.bin');
    writeFileSync(src, blob);
    await rt.cpIn(box.container_id, '/experiment/blob.bin', { path: src });
    // Produce a file inside, then copy it out to the default place and to a chosen one.
    await rt.exec(box.container_id, ['sh', '-c', 'mkdir -p results && cp blob.bin results/out.bin']);
    const out = await rt.cpOut(box.container_id, 'results/out.bin');
    expect(out.path).toBe(join(home, 'experiments', `rt-${run}`, 'out', 'results', 'out.bin'));
    expect(out).toMatchObject({ sha256: sha256(blob), bytes: blob.length });
    expect(readFileSync(out.path).equals(blob)).toBe(true);

    const chosen = join(home, 'chosen');
    const out2 = await rt.cpOut(box.container_id, 'inputs/model/data.csv', chosen);
    expect(out2).toEqual({ path: chosen, sha256: sha256(text), bytes: text.length });
    expect(readFileSync(chosen, 'utf8')).toBe(text);
    // No partial files are left beside the destination.
    expect(readdirSync(home).filter((f) => f.includes('.partial-') || f.endsWith('.peragus-tmp'))).toEqual(
      [],
    );
  });

  it('rejects copies that escape /experiment, and bad sources', async () => {
    for (const dest of [
      '../etc/evil',
      '../../tmp/evil',
      'a/../../evil',
      '/etc/evil',
      '/experiment/../evil',
    ]) {
      const err = await runtimeFailure(rt.cpIn(box.container_id, dest, { content: 'x' }));
      expect(err.code).toBe('invalid_path');
      expect(err.message).toContain(dest);
    }
    const check = await rt.exec(box.container_id, ['sh', '-c', 'ls /evil /etc/evil /tmp/evil 2>&1; true']);
    expect(check.stdout).not.toMatch(/^\/(etc|tmp)?\/?evil$/m);
    expect((await runtimeFailure(rt.cpOut(box.container_id, '../etc/passwd'))).code).toBe('invalid_path');
    expect((await runtimeFailure(rt.cpOut(box.container_id, 'missing.parquet'))).code).toBe('file_not_found');
    expect((await runtimeFailure(rt.cpOut(box.container_id, 'inputs'))).code).toBe('copy_failed');
    expect((await runtimeFailure(rt.cpIn(box.container_id, 'x', { path: join(home, 'nope') }))).code).toBe(
      'file_not_found',
    );
  });

  it('reports stats and health', async () => {
    const s = await rt.stats(box.container_id);
    expect(s.memory_limit_bytes).toBe(256 * 2 ** 20);
    expect(s.memory_usage_bytes).toBeGreaterThan(0);
    expect(s.pids).toBeGreaterThanOrEqual(1);
    expect(s.pids_limit).toBe(128);
    expect(s.cpu_percent).toBeGreaterThanOrEqual(0);

    const h = await rt.health(box.container_id);
    expect(h).toMatchObject({
      running: true,
      status: 'running',
      oom_killed: false,
      oom_kill_count: 0,
      exit_code: null,
      experiment_id: `rt-${run}`,
      endpoint_reachable: null,
    });
  });

  it('enforces the memory cap: an allocating process is OOM-killed and the host stays up', async () => {
    // A process inside a running container (like a kernel under the node role).
    const hog = await rt.exec(box.container_id, [
      'python3',
      '-c',
      'x = b"x" * (1024 * 2**20); print("survived")',
    ]);
    expect(hog.exit_code).toBe(137);
    expect(hog.stdout).not.toContain('survived');
    const h = await rt.health(box.container_id);
    expect(h.running).toBe(true);
    expect(h.oom_killed).toBe(true);
    expect(h.oom_kill_count).toBeGreaterThanOrEqual(1);
    expect(h.reason).toMatch(/out of memory.*256 MiB/);

    // The main process itself: the container ends with Docker's OOMKilled flag.
    const main = await rt.create({
      experiment_id: `oom-${run}`,
      command: ['python3', '-c', 'import time; x = b"x" * (1024 * 2**20); time.sleep(60)'],
      resources: { memory: '128m' },
      labels,
    });
    let state = await rt.health(main.container_id);
    for (let i = 0; i < 100 && state.running; i++) {
      await new Promise((r) => setTimeout(r, 100));
      state = await rt.health(main.container_id);
    }
    expect(state).toMatchObject({ running: false, oom_killed: true, exit_code: 137 });
    expect(state.reason).toMatch(/out of memory/);

    // The host and the other container are fine.
    expect(
      execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8' }).trim(),
    ).not.toBe('');
    expect((await rt.exec(box.container_id, ['true'])).exit_code).toBe(0);
    await expect(rt.exec(main.container_id, ['true'])).rejects.toMatchObject({ code: 'exec_failed' });
    await rt.destroy(main.container_id);
  });

  it('returns container logs, demultiplexed', async () => {
    const c = await rt.create({
      experiment_id: `logs-${run}`,
      command: ['sh', '-c', 'for i in 1 2 3; do echo "out $i"; echo "err $i" >&2; done; sleep infinity'],
      labels,
    });
    let logs = await rt.logs(c.container_id);
    // "err 3" is written after "out 3": a read between the two has only the first.
    for (let i = 0; i < 50 && !(logs.stdout.includes('out 3') && logs.stderr.includes('err 3')); i++) {
      await new Promise((r) => setTimeout(r, 100));
      logs = await rt.logs(c.container_id);
    }
    expect(logs.stdout).toBe('out 1\nout 2\nout 3\n');
    expect(logs.stderr).toBe('err 1\nerr 2\nerr 3\n');
    // tail counts lines of both streams together, like `docker logs --tail`.
    const tail = await rt.logs(c.container_id, { tail: 2 });
    expect((tail.stdout + tail.stderr).trim().split('\n')).toHaveLength(2);
    await rt.destroy(c.container_id);
  });

  it('rejects a second live container for the same experiment, also when racing', async () => {
    const err = await runtimeFailure(
      rt.create({ experiment_id: `rt-${run}`, command: ['sleep', '1'], labels }),
    );
    expect(err.code).toBe('conflict');
    expect(dockerPs(`peragus.experiment_id=rt-${run}`)).toHaveLength(1);

    const spec = { experiment_id: `race-${run}`, command: ['sleep', 'infinity'], labels };
    const results = await Promise.allSettled([rt.create(spec), rt.create(spec), rt.create(spec)]);
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'conflict' });
    }
    expect(dockerPs(`peragus.experiment_id=race-${run}`)).toHaveLength(1);
    const winner = (won[0] as PromiseFulfilledResult<CreateResult>).value;
    expect(existsSync(winner.work_dir)).toBe(true);
    expect((await rt.exec(winner.container_id, ['true'])).exit_code).toBe(0);
    await rt.destroy(winner.container_id);
  });

  it('unknown ids are clear errors; destroy is idempotent', async () => {
    const unknown = 'f'.repeat(64);
    for (const call of [
      () => rt.exec(unknown, ['true']),
      () => rt.health(unknown),
      () => rt.logs(unknown),
      () => rt.stats(unknown),
      () => rt.cpIn(unknown, 'a', { content: 'x' }),
      () => rt.cpOut(unknown, 'a'),
    ]) {
      const err = await runtimeFailure(call());
      expect(err.code).toBe('not_found');
      expect(err.message).toContain(unknown);
    }
    expect((await runtimeFailure(rt.health('../../images/json'))).code).toBe('not_found');
    expect(await rt.destroy(unknown)).toEqual({ removed: false });

    const c = await rt.create({ experiment_id: `gone-${run}`, command: ['sleep', 'infinity'], labels });
    expect(await rt.destroy(c.container_id)).toEqual({ removed: true });
    expect(await rt.destroy(c.container_id)).toEqual({ removed: false });
    expect((await runtimeFailure(rt.health(c.container_id))).message).toContain(c.container_id);
    expect(dockerPs(`peragus.experiment_id=gone-${run}`)).toEqual([]);
    // The work dir (the experiment's record) stays unless asked otherwise.
    expect(existsSync(c.work_dir)).toBe(true);
  });

  it('a missing image is a clear error and leaves nothing behind', async () => {
    const err = await runtimeFailure(
      rt.create({ image: 'peragus/does-not-exist:nope', experiment_id: `noimg-${run}` }),
    );
    expect(err.code).toBe('image_not_found');
    expect(err.message).toContain('peragus/does-not-exist:nope');
    expect(err.message).toContain('container-image/build.sh');
    expect(dockerPs(`peragus.experiment_id=noimg-${run}`)).toEqual([]);
    expect(existsSync(join(home, 'experiments', `noimg-${run}`))).toBe(false);
  });

  it('a create that fails to start leaves no container and no folders', async () => {
    const err = await runtimeFailure(
      rt.create({ command: ['/no/such/entry'], experiment_id: `badstart-${run}`, labels }),
    );
    expect(err.code).toBe('create_failed');
    expect(err.message).toMatch(/\/no\/such\/entry/);
    expect(dockerPs(`peragus.experiment_id=badstart-${run}`)).toEqual([]);
    expect(existsSync(join(home, 'experiments', `badstart-${run}`))).toBe(false);
    // Refused at create time (more CPUs than the host has): same guarantee.
    const refused = await runtimeFailure(
      rt.create({ command: ['sleep', '1'], experiment_id: `badcpu-${run}`, resources: { cpu: 200 } }),
    );
    expect(refused.code).toBe('create_failed');
    expect(refused.message).toMatch(/CPU/i);
    expect(dockerPs(`peragus.experiment_id=badcpu-${run}`)).toEqual([]);
    expect(existsSync(join(home, 'experiments', `badcpu-${run}`))).toBe(false);
    // The experiment id is free again.
    const ok = await rt.create({ command: ['sleep', 'infinity'], experiment_id: `badstart-${run}`, labels });
    await rt.destroy(ok.container_id, { removeWorkDir: true });
    expect(existsSync(join(home, 'experiments', `badstart-${run}`))).toBe(false);
  });
});

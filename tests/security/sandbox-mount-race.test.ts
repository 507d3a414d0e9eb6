// bubblewrap copies the host's mount tree into each sandbox and makes every submount read-only
// one by one; a submount that goes away in between (Docker's `-init` layer of a container being
// created) failed the sandbox's start. CI saw a Docker plan's model check fail so while the
// plan's warm pool filled. A start that lost that race ran nothing, so it is made again
// (sandbox/mount-race.ts). First for real: sandboxes started while Docker creates and removes
// containers in a loop. Beside it, a `bwrap` on PATH that loses the race on purpose a given number
// of times before it runs the real one, so every retrying path is shown to retry, and to stop.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runModelCheck } from '../../notebook-server/src/orchestrator/model-check.ts';
import { defaultImage } from '../../notebook-server/src/runtime/docker.ts';
import { LocalRuntime } from '../../notebook-server/src/runtime/local.ts';
import { localIsolation } from '../../notebook-server/src/sandbox/bwrap.ts';
import {
  isMountRace,
  quotesMountRace,
  SANDBOX_START_ATTEMPTS,
} from '../../notebook-server/src/sandbox/mount-race.ts';
import { modelRunning } from '../helpers/code-model.ts';
import { dockerTestsEnabled } from '../helpers/docker.ts';
import { startTestHost } from '../helpers/host.ts';
import { REPO } from '../helpers/sd-models.ts';

const RACE =
  'bwrap: Can\'t bind mount /oldroot/ on /newroot/: Unable to apply mount flags: remount "/newroot/var/lib/docker/overlay2/0f3c-init/merged": Invalid argument';
const SIR = readFileSync(join(REPO, 'notebooks/models/sir.mdl'), 'utf8');
const check = localIsolation();
const enabled = check.isolation === 'bubblewrap';
if (!enabled && process.env.CI) throw new Error(`the sandbox tests must run in CI, but ${check.reason}`);

describe('what counts as a mount race', () => {
  it("is bubblewrap's one line about a submount's remount, nothing else", () => {
    expect(isMountRace(`${RACE}\n`)).toBe(true);
    expect(isMountRace(RACE.replace('Invalid argument', 'No such file or directory'))).toBe(true);
    // Other failures of bubblewrap, or a command's own output around the line, are not.
    expect(isMountRace(RACE.replace('Invalid argument', 'Permission denied'))).toBe(false);
    expect(isMountRace("bwrap: Can't mount proc on /newroot/proc: Operation not permitted")).toBe(false);
    expect(isMountRace(`started\n${RACE}`)).toBe(false);
    expect(quotesMountRace(`cannot serve x's sessions: ended (its sandbox exited 1: ${RACE})`)).toBe(true);
    expect(quotesMountRace('cannot serve x: process 5 ended before it ran /bin/cat')).toBe(false);
  });
});

describe.skipIf(!enabled)('sandboxes started while mounts come and go', () => {
  const home = mkdtempSync(join(tmpdir(), 'peragus-mount-race-'));
  const shims = mkdtempSync(join(tmpdir(), 'peragus-bwrap-shim-'));
  const calls = join(shims, 'calls');
  const fails = join(shims, 'fails');
  const realBwrap = execFileSync('sh', ['-c', 'command -v bwrap'], { encoding: 'utf8' }).trim();
  const path = process.env.PATH;
  let rt: LocalRuntime;
  // The next `n` sandbox starts lose the race (the shim says what bubblewrap says, exits 1).
  const loseNext = (n: number) => {
    writeFileSync(fails, String(n));
    writeFileSync(calls, '');
  };
  const starts = () => readFileSync(calls, 'utf8').length;

  beforeAll(() => {
    writeFileSync(
      join(shims, 'bwrap'),
      [
        '#!/bin/sh',
        `printf x >> '${calls}'`,
        // Shell builtins only: a /bin/cat of its own would pass for the sandbox's holder.
        `read n < '${fails}'`,
        'if [ "$n" -gt 0 ]; then',
        `  echo $((n - 1)) > '${fails}'`,
        `  echo '${RACE.replaceAll("'", "'\\''")}' >&2`,
        '  exit 1',
        'fi',
        `exec '${realBwrap}' "$@"`,
        '',
      ].join('\n'),
    );
    chmodSync(join(shims, 'bwrap'), 0o755);
    loseNext(0);
    rt = new LocalRuntime({ home });
  });

  afterAll(async () => {
    process.env.PATH = path;
    await rt?.close();
    rmSync(home, { recursive: true, force: true });
    rmSync(shims, { recursive: true, force: true });
  });

  it.runIf(dockerTestsEnabled())(
    'every sandbox starts while Docker creates and removes containers (the real race)',
    async () => {
      // A node's container: its create waits for the sandbox (a command's does not look).
      const made = await rt.create({ experiment_id: 'beside-docker' });
      // Docker mounts a container's layers for a moment while it creates and removes it.
      const image = defaultImage();
      let churning = true;
      const docker = (args: string[]) =>
        new Promise<string>((done) => {
          let out = '';
          const c: ChildProcess = spawn('docker', args, { stdio: ['ignore', 'pipe', 'ignore'] });
          c.stdout?.on('data', (d: Buffer) => {
            out += d;
          });
          c.on('close', () => done(out.trim()));
        });
      // Two loops of create and remove: each mounts and unmounts the container's layers.
      const churn = async () => {
        let created = 0;
        while (churning) {
          const id = await docker(['create', '--network', 'none', image, 'true']);
          if (id) await docker(['rm', id]);
          if (id) created++;
        }
        return created;
      };
      const churned = Promise.all([churn(), churn()]);
      const failed: string[] = [];
      try {
        // Beside two such loops, without the retry, 3 to 7 of these 400 execs lost the race here
        // (in 5 runs of 6; a bare bubblewrap start lost it 13 times in 2,000).
        for (let i = 0; i < 400; i++) {
          const r = await rt.exec(made.container_id, ['true']);
          if (r.exit_code !== 0) failed.push(r.stderr.trim());
        }
      } finally {
        churning = false;
      }
      expect((await churned).every((n) => n > 3)).toBe(true);
      expect(failed).toEqual([]);
      await rt.destroy(made.container_id);
    },
    300_000,
  );

  it("a command that fails with bubblewrap's words is still run at most that many times, and any other failure once", async () => {
    const made = await rt.create({ experiment_id: 'mimic', command: ['sleep', '600'] });
    // Experiment code can print what bubblewrap prints: it gains a rerun of itself, bounded.
    const mimic = `echo x >> runs.txt; echo '${RACE.replaceAll("'", "'\\''")}' >&2; exit 1`;
    const r = await rt.exec(made.container_id, ['sh', '-c', mimic]);
    expect(r.exit_code).toBe(1);
    expect(readFileSync(join(made.work_dir, 'runs.txt'), 'utf8')).toBe('x\n'.repeat(SANDBOX_START_ATTEMPTS));
    const other = await rt.exec(made.container_id, [
      'sh',
      '-c',
      'echo x >> other.txt; echo nope >&2; exit 1',
    ]);
    expect(other.exit_code).toBe(1);
    expect(readFileSync(join(made.work_dir, 'other.txt'), 'utf8')).toBe('x\n');
    await rt.destroy(made.container_id);
  });

  // The next starts lose the race on purpose: the shim first on PATH for each of these.
  describe('with a bwrap that loses on purpose', () => {
    beforeEach(() => {
      process.env.PATH = `${shims}:${path}`;
    });
    afterEach(() => {
      process.env.PATH = path;
    });

    it('a container whose sandbox loses the race is made again, and its exec is run again', async () => {
      loseNext(1);
      const made = await rt.create({ experiment_id: 'raced' });
      expect(starts()).toBe(2);
      expect((await rt.list()).filter((c) => c.experiment_id === 'raced').map((c) => c.running)).toEqual([
        true,
      ]);
      loseNext(SANDBOX_START_ATTEMPTS - 1);
      const r = await rt.exec(made.container_id, ['sh', '-c', 'echo ran >> once.txt; echo ok']);
      expect(r).toMatchObject({ exit_code: 0, stdout: 'ok\n' });
      expect(starts()).toBe(SANDBOX_START_ATTEMPTS);
      expect(readFileSync(join(made.work_dir, 'once.txt'), 'utf8')).toBe('ran\n');
      // Lost every time: bubblewrap's own words come back, after SANDBOX_START_ATTEMPTS starts.
      loseNext(SANDBOX_START_ATTEMPTS);
      const lost = await rt.exec(made.container_id, ['true']);
      expect(lost.exit_code).toBe(1);
      expect(lost.stderr.trim()).toBe(RACE);
      expect(starts()).toBe(SANDBOX_START_ATTEMPTS);
      await rt.destroy(made.container_id);
      loseNext(SANDBOX_START_ATTEMPTS);
      await expect(rt.create({ experiment_id: 'lost' })).rejects.toThrow(/Unable to apply mount flags/);
      expect(starts()).toBe(SANDBOX_START_ATTEMPTS);
      expect((await rt.list()).filter((c) => c.experiment_id === 'lost')).toEqual([]);
    }, 120_000);

    it("a host's own sandboxes are made again too: a served experiment's, a session kernel's", async () => {
      const dir = mkdtempSync(join(tmpdir(), 'peragus-kernel-box-'));
      const t = await startTestHost({ runtime: 'local' });
      try {
        // An experiment whose sessions the host serves (no node process in its sandbox).
        loseNext(1);
        const made = await t.call('container_create', { experiment_id: 'served' });
        expect(starts()).toBe(2);
        const nb = await t.call('notebook_create', { container_id: made.container_id, name: 'n' });
        const cell = await t.call('cell_add', {
          session_id: nb.session_id,
          source: 'print(6 * 7)',
          execute: true,
        });
        expect(cell.run).toMatchObject({ status: 'ok', outputs: [{ text: '42\n' }] });
        // A kernel sandbox of the host's own sessions.
        loseNext(1);
        const box = await rt.kernelSandbox(dir);
        expect(box).not.toBeNull();
        expect(starts()).toBe(2);
        await box?.close();
        loseNext(SANDBOX_START_ATTEMPTS);
        await expect(rt.kernelSandbox(dir)).rejects.toThrow(/its sandbox said: bwrap: Can't bind mount/);
        expect(starts()).toBe(SANDBOX_START_ATTEMPTS);
      } finally {
        await t.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }, 240_000);

    it('a model check whose sandbox loses the race is checked again', async () => {
      loseNext(1);
      const result = await runModelCheck({
        home,
        model: { content: SIR, name: 'sir.mdl' },
        translateOnly: true,
        timeoutMs: 120_000,
      });
      expect(result.reply?.ok, result.output).toBe(true);
      expect(starts()).toBe(2);
      loseNext(SANDBOX_START_ATTEMPTS);
      const lost = await runModelCheck({
        home,
        model: { content: SIR, name: 'sir.mdl' },
        translateOnly: true,
        timeoutMs: 120_000,
      });
      expect(lost.reply).toBeUndefined();
      expect(lost.output).toBe(RACE);
      expect(starts()).toBe(SANDBOX_START_ATTEMPTS);
    }, 240_000);

    it("a model that prints bubblewrap's words and dies is checked 3 times at most", async () => {
      // A model is code: it can say what bubblewrap says. It gains two more checks of itself, no more.
      const said = Buffer.from(`${RACE}\n`).toString('hex');
      loseNext(0);
      const result = await runModelCheck({
        home,
        model: {
          content: modelRunning([
            'import os, sys',
            `sys.stderr.write(bytes.fromhex('${said}').decode())`,
            'sys.stderr.flush()',
            'os._exit(1)',
          ]),
          name: 'mimic.mdl',
        },
        timeoutMs: 120_000,
      });
      expect(result.reply).toBeUndefined();
      expect(result.output).toBe(RACE);
      expect(starts()).toBe(SANDBOX_START_ATTEMPTS);
    }, 240_000);
  });

  it('the sandbox probe is not turned off by a lost race', () => {
    // localIsolation is read once per process: a fresh one, with the shim first on its PATH.
    const probe = (n: number) => {
      loseNext(n);
      const out = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          '-e',
          "import { localIsolation } from './notebook-server/src/sandbox/bwrap.ts'; console.log(JSON.stringify(localIsolation()))",
        ],
        { cwd: REPO, encoding: 'utf8', env: { ...process.env, PATH: `${shims}:${path}` } },
      );
      return JSON.parse(out.stdout.trim().split('\n').pop() ?? '{}') as {
        isolation: string;
        reason?: string;
      };
    };
    expect(probe(SANDBOX_START_ATTEMPTS - 1)).toEqual({ isolation: 'bubblewrap' });
    expect(starts()).toBe(SANDBOX_START_ATTEMPTS);
    const lost = probe(SANDBOX_START_ATTEMPTS);
    expect(lost.isolation).toBe('none');
    expect(lost.reason).toContain('Unable to apply mount flags');
  });
});

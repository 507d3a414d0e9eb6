// A model is code: PySD writes a model's documentation into a docstring, so a
// documentation string can close it and run anything when the model loads.
// The plan check loads the model before any experiment starts, so it runs in a
// sandbox of its own (orchestrator/model-check.ts), never in the host. These
// models attack it: one writes to the host and reports what it could do, one
// forges another model's translation in the only folder it can write.
import { execFile, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ZygoteRegistry } from '../../notebook-server/src/kernel/zygote.ts';
import { runModelCheck } from '../../notebook-server/src/orchestrator/model-check.ts';
import { localIsolation, sandboxOwner } from '../../notebook-server/src/sandbox/bwrap.ts';
import { breakoutAttempt, modelRunning } from '../helpers/code-model.ts';
import { startTestHost, type TestHost } from '../helpers/host.ts';
import { REPO } from '../helpers/sd-models.ts';

const SIR = readFileSync(join(REPO, 'notebooks/models/sir.mdl'), 'utf8');
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

const plan = (content: string) => ({
  model: { source: 'widgets.mdl', content },
  experiment: { type: 'single', metrics: [{ variable: 'Stock', stat: 'max' }] },
  grid: { Inflow: [1] },
  parallel_limit: 1,
});

describe('the plan check runs a model in a sandbox, not in the host', () => {
  let t: TestHost;
  beforeAll(async () => {
    expect(localIsolation().isolation, 'these tests need bubblewrap (installed by set-up)').toBe(
      'bubblewrap',
    );
    t = await startTestHost({ runtime: 'local' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("a model's code at the check cannot write the host's home, the code or the cache, nor reach the network", async () => {
    const tag = randomBytes(4).toString('hex');
    const targets = [
      join(t.home, `pwned-${tag}`),
      join(REPO, `.pwned-${tag}`),
      join(t.home, 'pysd-cache', `pwned-${tag}`),
      `/etc/pwned-${tag}`,
    ];
    const model = modelRunning([
      ...breakoutAttempt(targets),
      "raise RuntimeError('PAYLOAD uid=%d wrote=%s net=%s' % (os.getuid(), wrote, net))",
    ]);
    const err = await t.callError('experiment_plan_run', plan(model));
    const uid = sandboxOwner()?.uid ?? process.getuid?.();
    // The code ran (its message is the check's error), as the sandbox user, and did nothing.
    expect(err).toMatch(new RegExp(`plan was not started.*PAYLOAD uid=${uid} wrote=\\[\\] net=no`));
    for (const p of targets) expect(existsSync(p), p).toBe(false);
    // No experiment was started for it.
    const rows = await t.call('catalog_query', { sql: 'SELECT count(*)::INT AS n FROM experiments' });
    expect((rows.rows as { n: number }[])[0]?.n).toBe(0);
  });

  // `peragus run` reads its model from the host, relative to the plan file, and a person keeps
  // plans where they like: in a private folder (0700), or in the Peragus home itself. The check
  // gets the model's text, as the experiments do, never the folder: that folder is beyond the
  // sandbox user (the check used to fail there with a PermissionError), or it is the home.
  it("`peragus run` with its model in the private home: the check runs, and sees the model's text, not its folder", async () => {
    const home = mkdtempSync(join(tmpdir(), 'peragus-cli-private-')); // 0700, the host's own
    try {
      const secret = join(home, 'secret.txt');
      writeFileSync(secret, 'the catalog and other experiments live here');
      const peragus = (planFile: string) =>
        promisify(execFile)(process.execPath, [join(REPO, 'bin/peragus.js'), 'run', planFile], {
          env: { ...process.env, PERAGUS_HOME: home, PERAGUS_POOL_SIZE: '0' },
          timeout: 600_000,
        }).then(
          (r) => ({ code: 0, ...r }),
          (e: { code: number; stdout: string; stderr: string }) => e,
        );
      // A plain model beside the home's files runs.
      writeFileSync(join(home, 'sir.mdl'), SIR);
      writeFileSync(
        join(home, 'plan.json'),
        JSON.stringify({
          model: { source: 'sir.mdl' },
          experiment: { type: 'single', metrics: [{ variable: 'Infected', stat: 'max' }] },
          grid: { 'Contact Rate': [5] },
        }),
      );
      const ok = await peragus(join(home, 'plan.json'));
      expect(ok.stderr).not.toMatch(/PermissionError|check failed/);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toMatch(/1\/1 finished, 0 failed/);
      // A model whose code looks around it: no secret, and its own folder holds only its files.
      writeFileSync(
        join(home, 'widgets.mdl'),
        modelRunning([
          'import os',
          `seen = 'yes' if os.path.exists(${JSON.stringify(secret).replaceAll('"', "'")}) else 'no'`,
          "mine = sorted(os.listdir(os.path.dirname(os.path.abspath('widgets.mdl'))))",
          "raise RuntimeError('PAYLOAD secret=%s folder=%s' % (seen, mine))",
        ]),
      );
      writeFileSync(
        join(home, 'widgets.json'),
        JSON.stringify({ ...plan(''), model: { source: 'widgets.mdl' } }),
      );
      const refused = await peragus(join(home, 'widgets.json'));
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/plan was not started.*PAYLOAD secret=no folder=\[/);
      expect(refused.stderr).not.toMatch(/secret\.txt|sir\.mdl|plan\.json/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  }, 600_000);

  it("a check forked from the kernel zygote runs in a sandbox of its own: nothing of the zygote's, and no second fork", async () => {
    const ask = (n: number, request: string) => [
      `s${n} = socket.socket(socket.AF_UNIX)`,
      `s${n}.settimeout(5)`,
      `s${n}.connect('/run/peragus/kernel.sock')`,
      `s${n}.sendall((json.dumps(${request}) + chr(10)).encode())`,
      `r${n} = 'refused' if 'error' in s${n}.recv(4096).decode() else 'served'`,
    ];
    const model = modelRunning([
      'import os, sys, json, socket',
      // The zygote's module is never imported by a cold check: this is a fork of the zygote's
      // check server. That server forked before the zygote imported ipykernel: none here.
      "forked = 'peragus_pysd.zygote_child' in sys.modules",
      "kernel = 'ipykernel.kernelapp' in sys.modules",
      "status = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines())",
      "fds = sorted(int(f) for f in os.listdir('/proc/self/fd'))",
      "pidns = os.readlink('/proc/self/ns/pid')",
      ...ask(1, 'dict(check=dict())'),
      ...ask(2, "dict(argv=['-f', '/tmp/k.json'])"),
      "raise RuntimeError('PAYLOAD forked=%s kernel=%s uid=%d cap=%s nnp=%s fds=%s pidns=%s more=%s,%s' % (forked, kernel, os.getuid(), status['CapEff'].strip(), status['NoNewPrivs'].strip(), fds, pidns, r1, r2))",
    ]);
    const err = await t.callError('experiment_plan_run', plan(model));
    const said = /PAYLOAD (.*?)(\)|$| \(model)/m.exec(err)?.[1] ?? err;
    const uid = sandboxOwner()?.uid ?? process.getuid?.();
    expect(said).toContain('forked=True kernel=False');
    expect(said).toContain(`uid=${uid} cap=0000000000000000 nnp=1`);
    // stdin, stdout, stderr and listdir's own: no socket or pipe of the zygote's is left open.
    expect(said).toContain('fds=[0, 1, 2, 3]');
    // The sandbox's pid namespace, not the host's (where the zygote lives).
    const hostPidns = readlinkSync('/proc/self/ns/pid');
    expect(said).toMatch(/pidns=pid:\[\d+\]/);
    expect(said).not.toContain(`pidns=${hostPidns}`);
    // The check's socket forked this check once: neither another check nor a kernel.
    expect(said).toContain('more=refused,refused');
  });

  it("a plan's model name is only a scratch file's name in the check's own folder", async () => {
    const tag = randomBytes(4).toString('hex');
    const outside = [
      `../../../../../tmp/escape-${tag}.mdl`,
      `inbox/../../escape-${tag}.mdl`,
      `.escape-${tag}.mdl`,
    ];
    for (const source of outside) {
      const summary = await t.call('experiment_plan_run', {
        // Not SIR's own text: the forgery test below needs SIR's entry never made.
        model: { source, content: `${SIR}\n`, format: 'vensim' },
        experiment: { type: 'single', metrics: [{ variable: 'Infected', stat: 'max' }] },
        grid: { 'Contact Rate': [5] },
        parallel_limit: 1,
      });
      expect(summary, source).toMatchObject({ total: 1, finished: 1, failed: 0 });
    }
    for (const p of [
      `/tmp/escape-${tag}.mdl`,
      join(t.home, `escape-${tag}.mdl`),
      join(t.home, '..', `escape-${tag}.mdl`),
    ]) {
      expect(existsSync(p), p).toBe(false);
    }
    // Nothing of the checks is left in the staging folder.
    expect(readdirSync(join(t.home, 'pysd-staging'))).toEqual([]);
  });

  it("a model's code can write only its own model's translation: a forged one for another model is never published", async () => {
    const target = sha(SIR);
    const model = modelRunning([
      'import os, json, hashlib, pysd',
      "cache = os.environ.get('PERAGUS_PYSD_SHARED_CACHE', '')",
      `d = cache + '/' + '${target.slice(0, 16)}' + '-pysd' + pysd.__version__`,
      "ok = os.system('mkdir -p ' + d + ' 2>/dev/null') == 0 and os.access(d, os.W_OK)",
      // The forged translation exits its loader (no quotes: the line is itself a quoted literal).
      "py = 'raise SystemExit(7)'",
      "entry = dict(source_sha256='" +
        target +
        "', pysd_version=pysd.__version__, format='vensim', py_file='model.py', py_sha256=hashlib.sha256(py.encode()).hexdigest())",
      "ok and open(d + '/model.py', 'w').write(py)",
      "ok and open(d + '/entry.json', 'w').write(json.dumps(entry))",
    ]);
    const summary = await t.call('experiment_plan_run', plan(model));
    expect(summary).toMatchObject({ total: 1, finished: 1, failed: 0 });
    const cache = join(t.home, 'pysd-cache');
    const names = readdirSync(cache).filter((n) => !n.startsWith('.'));
    expect(names.some((n) => n.startsWith(sha(model).slice(0, 16)))).toBe(true);
    expect(names.filter((n) => n.startsWith(target.slice(0, 16)))).toEqual([]);
    // SIR still loads its own translation in a session (a forged one would raise SystemExit).
    const c = await t.call('container_create', { runtime: 'local', experiment_id: 'after-forgery' });
    const nb = await t.call('notebook_create', { name: 'sir', container_id: c.container_id });
    const loaded = await t.call('pysd_model_load', {
      session_id: nb.session_id,
      source: 'sir.mdl',
      content: SIR,
    });
    expect(loaded.sha256).toBe(target);
  });

  it('a zygote killed outright leaves the check to a cold Python in its own sandbox: plans still run', async () => {
    const own = await startTestHost({ runtime: 'local' });
    try {
      const ok = {
        model: { source: 'sir.mdl', content: `${SIR}\n\n` },
        experiment: { type: 'single', metrics: [{ variable: 'Infected', stat: 'max' }] },
        grid: { 'Contact Rate': [5] },
        parallel_limit: 1,
      };
      expect(await own.call('experiment_plan_run', ok)).toMatchObject({ finished: 1, failed: 0 });
      const local = own.host.containers.localRuntime();
      const zygote = await local.zygotePid();
      expect(zygote).toBeGreaterThan(1);
      process.kill(zygote as number, 'SIGKILL');
      const err = await own.callError(
        'experiment_plan_run',
        plan(
          modelRunning([
            'import os, sys',
            "raise RuntimeError('PAYLOAD forked=%s uid=%d' % ('peragus_pysd.zygote_child' in sys.modules, os.getuid()))",
          ]),
        ),
      );
      expect(err).toContain(`PAYLOAD forked=False uid=${sandboxOwner()?.uid ?? process.getuid?.()}`);
      const again = await own.call('experiment_plan_run', { ...ok, grid: { 'Contact Rate': [6] } });
      expect(again).toMatchObject({ finished: 1, failed: 0 });
    } finally {
      await own.close();
    }
  });

  it('a check whose sandbox is killed as it starts leaves no process behind and does not hang the plan', async () => {
    // Beside the real zygote test above: a registry whose zygote is gone by the time the sandbox
    // is up, so the check's bubblewrap is killed within milliseconds of its start, over and over.
    // Killed before its inner half has set --die-with-parent's signal, that half would live on
    // holding the check's pipes, and the check (and the plan) would wait for ever.
    const home = mkdtempSync(join(tmpdir(), 'peragus-check-kill-'));
    const socket = join(home, 'gone.sock');
    writeFileSync(socket, '');
    try {
      for (let i = 0; i < 12; i++) {
        const delay = i % 4; // 0–3 ms: the kill lands at different points of bubblewrap's start
        const gone: ZygoteRegistry = {
          register: async () => socket,
          attach: () => new Promise((_, fail) => setTimeout(() => fail(new Error('zygote gone')), delay)),
          revoke: async () => undefined,
          preload: async () => [],
        };
        const result = await runModelCheck({
          home,
          model: { content: SIR, name: 'sir.mdl' },
          translateOnly: true,
          timeoutMs: 120_000,
          zygote: gone,
        });
        // It ran cold instead, to the end.
        expect(result.reply?.ok, result.output).toBe(true);
      }
      const left = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
        .split('\n')
        .filter((l) => l.includes('bwrap') && l.includes(home));
      expect(left).toEqual([]);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  }, 240_000);

  // A model is code, and the check keeps what it prints in the host's memory: only the tail (at
  // most 16 MiB) is kept, and the answer, its last line, survives a flood of 40 MiB before it.
  it("a model that floods the check's output still gets its answer, from the tail", async () => {
    const home = mkdtempSync(join(tmpdir(), 'peragus-check-flood-'));
    try {
      const result = await runModelCheck({
        home,
        model: {
          content: modelRunning([
            'import sys',
            "for _ in range(40): sys.stdout.write('x' * 1048575 + chr(10))",
            'sys.stdout.flush()',
            "raise RuntimeError('PAYLOAD after the flood')",
          ]),
          name: 'flood.mdl',
        },
        timeoutMs: 120_000,
      });
      expect(result.reply?.ok, result.output).toBe(false);
      expect(result.reply?.error).toMatch(/PAYLOAD after the flood/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  }, 180_000);
});

// The CLI as a user runs it: `peragus run PLAN.json` prints a summary table,
// `peragus catalog query` answers from the catalog, and `peragus rerun` replays
// an exported notebook and reports every artifact checksum equal (and a
// changed one as a mismatch).
import { execFile, spawn } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { afterAll, describe, expect, it } from 'vitest';
import { createHost } from '../../notebook-server/src/app/host.ts';
import { childProcesses } from '../../notebook-server/src/runtime/local-process.ts';
import { REPO } from '../helpers/sd-models.ts';

const run = promisify(execFile);
const home = mkdtempSync(join(tmpdir(), 'peragus-cli-'));
const env = { ...process.env, PERAGUS_HOME: home, PERAGUS_POOL_SIZE: '0' };
const peragus = (args: string[]) =>
  run(process.execPath, [join(REPO, 'bin/peragus.js'), ...args], {
    env,
    timeout: 600_000,
    maxBuffer: 1 << 24,
  }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      stdout: e.stdout,
      stderr: e.stderr,
    }),
  );

afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('peragus CLI', () => {
  it('run PLAN.json prints a summary table, catalog query answers', async () => {
    const planFile = join(home, 'plan.json');
    writeFileSync(
      planFile,
      JSON.stringify({
        model: { source: join(REPO, 'notebooks/models/sir.mdl') },
        experiment: { type: 'single', metrics: [{ variable: 'Infected', stat: 'max' }] },
        targets: [{ 'Contact Rate': 5 }, { 'Contact Rate': 9 }],
        parallel_limit: 2,
      }),
    );
    const r = await peragus(['run', planFile]);
    expect(r.stderr).toMatch(/2\/2/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/2\/2 finished, 0 failed/);
    const q = await peragus([
      'catalog',
      'query',
      'SELECT count(*) AS n FROM experiments WHERE status = $$finished$$',
    ]);
    expect(q.code).toBe(0);
    expect(q.stdout).toMatch(/\n2\s*\n/);
    const bad = await peragus(['catalog', 'query', 'DROP TABLE experiments']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/read-only|SELECT|refused/i);
  }, 600_000);

  it('a local run starts one kernel zygote, before its host loads, and the plan uses that one', async () => {
    // `peragus run` starts the zygote first (its imports are the plan's critical path) and the
    // host's local runtime takes it over: a second zygote, or an early one left unused, would
    // show here as two zygotes that are children of the command.
    const planFile = join(home, 'plan-one-zygote.json');
    writeFileSync(
      planFile,
      JSON.stringify({
        model: { source: join(REPO, 'notebooks/models/sir.mdl') },
        experiment: { type: 'single', metrics: [{ variable: 'Infected', stat: 'max' }] },
        grid: { 'Contact Rate': [3, 4, 5] },
        parallel_limit: 2,
      }),
    );
    const child = spawn(process.execPath, [join(REPO, 'bin/peragus.js'), 'run', planFile], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const zygotes = new Set<number>();
    const code = await new Promise<number | null>((resolve) => {
      const timer = setInterval(() => {
        for (const pid of childProcesses(child.pid as number)) {
          try {
            if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('peragus_pysd.zygote'))
              zygotes.add(pid);
          } catch {
            // exited meanwhile
          }
        }
      }, 25);
      child.on('exit', (c) => {
        clearInterval(timer);
        resolve(c);
      });
    });
    expect(code).toBe(0);
    expect(out).toMatch(/3\/3 finished, 0 failed/);
    expect([...zygotes]).toHaveLength(1);
  }, 600_000);

  it('run PLAN.json whose model is reached through a symlinked folder', async () => {
    // A models folder that is a link (~/models -> /data/models) is bound by its real path into
    // the check's sandbox: bubblewrap cannot make a mount point under a link.
    const scratch = join(REPO, 'test-artifacts', `symlinked-${process.pid}`);
    const real = join(scratch, 'real');
    mkdirSync(real, { recursive: true });
    copyFileSync(join(REPO, 'notebooks/models/sir.mdl'), join(real, 'sir.mdl'));
    symlinkSync(real, join(scratch, 'link'));
    try {
      const planFile = join(home, 'symlinked.json');
      writeFileSync(
        planFile,
        JSON.stringify({
          model: { source: join(scratch, 'link', 'sir.mdl') },
          experiment: { type: 'single', metrics: [{ variable: 'Infected', stat: 'max' }] },
          targets: [{ 'Contact Rate': 4 }],
        }),
      );
      const r = await peragus(['run', planFile]);
      expect(r.stderr).not.toMatch(/bwrap/);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/1\/1 finished, 0 failed/);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }, 600_000);

  it('run fails a plan with a misspelled parameter once, before any experiment starts', async () => {
    const planFile = join(home, 'misspelled.json');
    writeFileSync(
      planFile,
      JSON.stringify({
        model: { source: join(REPO, 'notebooks/models/sir.mdl') },
        experiment: { type: 'single' },
        grid: { 'Contact Rat': [5, 9] },
      }),
    );
    const before = readdirSync(join(home, 'experiments')).length;
    const r = await peragus(['run', planFile]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /plan was not started: .*unknown parameter 'Contact Rat'.*did you mean 'Contact Rate'/,
    );
    // The refusal is the whole message: no warning about the zygote the refusal stopped.
    expect(r.stderr).not.toMatch(/modules themselves/);
    expect(readdirSync(join(home, 'experiments'))).toHaveLength(before);
  }, 600_000);

  it('rerun replays an exported notebook and compares checksums', async () => {
    const host = await createHost({ home: join(home, 'h2'), poolSize: 0, resumePlans: false });
    const [a, b] = InMemoryTransport.createLinkedPair();
    await host.makeMcpServer().connect(a);
    const client = new Client({ name: 'rerun', version: '1' });
    await client.connect(b);
    const call = async (name: string, args: Record<string, unknown>) => {
      const res = await client.callTool({ name, arguments: args });
      if (res.isError) throw new Error(JSON.stringify(res.content));
      return res.structuredContent as Record<string, unknown>;
    };
    const nb = await call('notebook_create', { name: 'rerun-me' });
    const sid = nb.session_id as string;
    const loaded = await call('pysd_model_load', {
      session_id: sid,
      source: 'models/sir.mdl',
      content: readFileSync(join(REPO, 'notebooks/models/sir.mdl'), 'utf8'),
    });
    await call('pysd_experiment_run', {
      session_id: sid,
      model_id: loaded.model_id,
      experiment: {
        type: 'monte_carlo',
        samples: 20,
        seed: 3,
        parameters: { Infectivity: { dist: 'uniform', min: 0.03, max: 0.1 } },
      },
    });
    const exported = await call('notebook_export', { session_id: sid, format: 'srcmd' });
    const srcmdPath = join(nb.work_dir as string, (exported.artifacts as { path: string }[])[0]!.path);
    await client.close();
    await host.close();

    const ok = await peragus(['rerun', srcmdPath]);
    expect(ok.stdout).toMatch(/all \d+ artifact checksums match/);
    expect(ok.code).toBe(0);

    // A recorded checksum that no longer matches is reported, with exit code 1.
    const outputsPath = srcmdPath.replace(/\.src\.md$/, '.outputs.json');
    const recorded = JSON.parse(readFileSync(outputsPath, 'utf8'));
    let changed = 0;
    const tamper = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(tamper);
      else if (v && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        if (typeof o.path === 'string' && o.path.endsWith('.parquet') && typeof o.sha256 === 'string') {
          o.sha256 = '0'.repeat(64);
          changed++;
        } else Object.values(o).forEach(tamper);
      }
    };
    tamper(recorded);
    expect(changed).toBeGreaterThan(0);
    writeFileSync(outputsPath, JSON.stringify(recorded));
    const bad = await peragus(['rerun', srcmdPath]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/MISMATCH/);
  }, 600_000);
});

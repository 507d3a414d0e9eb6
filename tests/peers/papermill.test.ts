// The kernel outside Peragus: `peragus kernelspec install` writes a kernelspec
// with real paths, and an exported .ipynb runs with papermill (and nbclient's
// jupyter-execute) on it, writing Parquet artifacts byte-identical to the ones
// the Peragus session wrote.
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHost, type TestHost } from '../helpers/host.ts';
import { REPO } from '../helpers/sd-models.ts';
import { peragus } from '../onehost/helpers.ts';
import { peerBin } from './peers.ts';

const exec = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'peragus-papermill-'));
const jupyterEnv = {
  ...process.env,
  JUPYTER_PATH: join(dir, 'prefix/share/jupyter'),
  JUPYTER_DATA_DIR: join(dir, 'user-data'),
  JUPYTER_CONFIG_DIR: join(dir, 'config'),
  JUPYTER_RUNTIME_DIR: join(dir, 'runtime'),
};
let t: TestHost;
let workDir: string;
let ipynb: string;
let parquet: string[];

beforeAll(async () => {
  t = await startTestHost();
  const nb = await t.call('notebook_create', { name: 'papermill-sir' });
  const sid = nb.session_id as string;
  workDir = nb.work_dir as string;
  const loaded = await t.call('pysd_model_load', {
    session_id: sid,
    source: 'models/sir.mdl',
    content: readFileSync(join(REPO, 'notebooks/models/sir.mdl'), 'utf8'),
  });
  const run = await t.call('pysd_experiment_run', {
    session_id: sid,
    model_id: loaded.model_id,
    experiment: {
      type: 'monte_carlo',
      samples: 10,
      seed: 11,
      parameters: { Infectivity: { dist: 'uniform', min: 0.03, max: 0.1 } },
    },
  });
  parquet = (run.artifacts as { path: string }[]).map((a) => a.path).filter((p) => p.endsWith('.parquet'));
  const out = await t.call('notebook_export', { session_id: sid, format: 'ipynb' });
  ipynb = join(workDir, (out.artifacts as { path: string }[])[0]?.path as string);
  // The kernelspec papermill and nbclient find through JUPYTER_PATH.
  const installed = await peragus(['kernelspec', 'install', '--prefix', join(dir, 'prefix')], jupyterEnv);
  if (installed.code !== 0) throw new Error(`kernelspec install failed: ${installed.stderr}`);
}, 600_000);

afterAll(async () => {
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the PySD kernel outside Peragus', () => {
  it('kernelspec install --user and --prefix write a kernel.json Jupyter lists, with a real python', async () => {
    const user = await peragus(['kernelspec', 'install', '--user'], jupyterEnv);
    expect(user.code).toBe(0);
    const prefix = await peragus(['kernelspec', 'install', '--prefix', join(dir, 'prefix')], jupyterEnv);
    expect(prefix.code).toBe(0);
    for (const base of [join(dir, 'user-data'), join(dir, 'prefix/share/jupyter')]) {
      const spec = JSON.parse(readFileSync(join(base, 'kernels/peragus-pysd/kernel.json'), 'utf8')) as {
        argv: string[];
      };
      expect(isAbsolute(spec.argv[0] as string)).toBe(true);
      expect(existsSync(spec.argv[0] as string)).toBe(true);
      expect(spec.argv.join(' ')).not.toContain('{python}');
    }
    // Jupyter itself finds each one: JUPYTER_PATH first, then the user's data dir.
    const list = async (env: NodeJS.ProcessEnv) => {
      const listed = await exec(peerBin('jupyter'), ['kernelspec', 'list', '--json'], { env });
      return (JSON.parse(listed.stdout) as { kernelspecs: Record<string, { resource_dir: string }> })
        .kernelspecs['peragus-pysd']?.resource_dir;
    };
    expect(await list(jupyterEnv)).toBe(join(dir, 'prefix/share/jupyter/kernels/peragus-pysd'));
    const { JUPYTER_PATH: _, ...userOnly } = jupyterEnv;
    expect(await list(userOnly)).toBe(join(dir, 'user-data/kernels/peragus-pysd'));

    const both = await peragus(['kernelspec', 'install', '--user', '--prefix', dir], jupyterEnv);
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/--user or --prefix DIR, not both/);
    const badName = await peragus(
      ['kernelspec', 'install', '--prefix', dir, '--name', '../escape'],
      jupyterEnv,
    );
    expect(badName.code).toBe(1);
    expect(badName.stderr).toMatch(/--name .*letters, digits/);
  }, 120_000);

  it.each([
    [
      'papermill',
      (nb: string, cwd: string) => [peerBin('papermill'), [nb, join(cwd, 'out.ipynb'), '--cwd', cwd]],
    ],
    ['nbclient (jupyter-execute)', (nb: string) => [peerBin('jupyter-execute'), [nb]]],
  ] as const)(
    '%s runs the exported .ipynb; Parquet artifacts are byte-identical',
    async (_, command) => {
      expect(parquet.length).toBeGreaterThan(0);
      const fresh = mkdtempSync(join(dir, 'run-'));
      const nb = join(fresh, 'in.ipynb');
      copyFileSync(ipynb, nb);
      // The notebook names its model by path and sha256: the model travels beside it.
      mkdirSync(join(fresh, 'models'), { recursive: true });
      copyFileSync(join(workDir, 'models/sir.mdl'), join(fresh, 'models/sir.mdl'));
      const [bin, args] = command(nb, fresh) as [string, string[]];
      await exec(bin, args, { env: jupyterEnv, cwd: fresh, timeout: 300_000, maxBuffer: 1 << 24 });
      for (const p of parquet) {
        expect(existsSync(join(fresh, p)), p).toBe(true);
        expect(readFileSync(join(fresh, p)).equals(readFileSync(join(workDir, p))), p).toBe(true);
      }
    },
    400_000,
  );
});

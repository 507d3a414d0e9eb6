// `peragus kernelspec install [--user | --prefix DIR] [--name NAME]`: installs
// the PySD kernel for Jupyter tools outside Peragus (JupyterLab, papermill,
// nbclient): a kernel.json whose argv names the kernel venv's real Python
// (the repo's kernelspec says "{python}", which only Peragus substitutes).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { KERNELSPEC } from '../../../srcmd/src/ipynb.ts';
import { readSetting } from '../config/index.ts';
import { loadKernelSpec, resolvePython } from '../kernel/launcher.ts';

/** Jupyter's per-user data dir, as jupyter_core computes it. */
export function jupyterUserDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const own = readSetting('jupyterDataDir', env);
  if (own) return resolve(own);
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Jupyter');
  return join(readSetting('xdgDataHome', env), 'jupyter');
}

const NAME_RE = /^[a-zA-Z0-9._-]{1,64}$/;

export async function kernelspecCommand(argv: string[]): Promise<number | undefined> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      user: { type: 'boolean' },
      prefix: { type: 'string' },
      name: { type: 'string', default: KERNELSPEC.name },
    },
  });
  if (positionals[0] !== 'install' || positionals.length > 1) {
    throw new Error('usage: peragus kernelspec install [--user | --prefix DIR] [--name NAME]');
  }
  if (values.user && values.prefix !== undefined) throw new Error('give --user or --prefix DIR, not both');
  const name = values.name;
  if (!NAME_RE.test(name)) {
    throw new Error(`--name ${JSON.stringify(name)}: use letters, digits, ".", "_" or "-" (at most 64)`);
  }
  const python = resolvePython();
  if (!existsSync(python)) {
    throw new Error(
      `the kernel's Python ${python} is missing: run \`npm run setup\` first (or set PERAGUS_PYTHON)`,
    );
  }
  const spec = loadKernelSpec();
  const dataDir =
    values.prefix !== undefined ? join(resolve(values.prefix), 'share', 'jupyter') : jupyterUserDataDir();
  const dir = join(dataDir, 'kernels', name);
  mkdirSync(dir, { recursive: true });
  const kernelJson = {
    argv: spec.argv.map((a) => (a === '{python}' ? python : a)),
    display_name: spec.display_name,
    language: spec.language,
    interrupt_mode: spec.interrupt_mode,
    env: spec.env ?? {},
    metadata: spec.metadata ?? {},
  };
  writeFileSync(join(dir, 'kernel.json'), `${JSON.stringify(kernelJson, null, 2)}\n`);
  process.stdout.write(`installed kernelspec ${name} in ${dir}\n`);
  if (values.prefix !== undefined) {
    process.stdout.write(
      `  Jupyter finds it when ${resolve(values.prefix)} is its sys.prefix, or with JUPYTER_PATH=${dataDir}\n`,
    );
  }
  return 0;
}

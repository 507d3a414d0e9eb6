#!/usr/bin/env node
// Idempotent set-up of the benchmark peers (run by `npm run bench` after setup.mjs):
// bench/peers/.venv with the pinned bench/peers/requirements.txt (EMA Workbench).
// The venv sees the kernel venv's packages through a .pth file, so PySD, numpy and
// pandas are the kernel's exact versions and only the peers' own packages are added.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const kernelVenv = process.env.PERAGUS_VENV ?? join(root, 'kernels', 'pysd', '.venv');
const venv = join(root, 'bench', 'peers', '.venv');
const requirements = join(root, 'bench', 'peers', 'requirements.txt');
const stampFile = join(venv, '.peragus-stamp');
const log = (msg) => process.stderr.write(`[peragus bench setup] ${msg}\n`);

const sitePackages = (v) => {
  const lib = join(v, 'lib');
  const py = readdirSync(lib).find((d) => d.startsWith('python3'));
  if (!py) throw new Error(`no python3.* folder in ${lib}`);
  return join(lib, py, 'site-packages');
};

const kernelSite = sitePackages(kernelVenv);
const stamp = createHash('sha256')
  .update(readFileSync(requirements))
  .update(kernelSite)
  .update('v1')
  .digest('hex');
const python = join(venv, 'bin', 'python');
if (existsSync(python) && existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === stamp)
  process.exit(0);

log(`creating the benchmark peers' environment in ${venv} (first run only)`);
if (!existsSync(python)) {
  // The same interpreter as the kernel venv, so the kernel's compiled packages load.
  execFileSync(join(kernelVenv, 'bin', 'python'), ['-m', 'venv', '--without-pip', venv], {
    stdio: 'inherit',
  });
}
writeFileSync(join(sitePackages(venv), 'peragus-kernel.pth'), `${kernelSite}\n`);
// pip comes from the kernel venv (visible through the .pth file); --prefix targets this venv.
execFileSync(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', requirements], {
  stdio: 'inherit',
});
writeFileSync(stampFile, `${stamp}\n`);

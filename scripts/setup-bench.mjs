#!/usr/bin/env node
// Set-up for `npm run bench` only: the peers' venv (bench/peers/.venv) with the
// pinned bench/peers/requirements.txt (EMA Workbench, papermill and what they
// need beyond the kernel's packages). The venv sees the kernel venv's
// site-packages through a .pth file, so numpy/pandas/pysd/ipykernel are the very
// versions Peragus runs, and it installs with --no-deps (the file is the full
// pinned set). Idempotent: a stamp holds the hash of both pinned files.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sitePackages, stampMatches } from './python-env.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const kernelVenv = process.env.PERAGUS_VENV ?? join(root, 'kernels', 'pysd', '.venv');
const venv = join(root, 'bench', 'peers', '.venv');
const requirements = join(root, 'bench', 'peers', 'requirements.txt');
const stampFile = join(venv, '.peragus-bench-stamp');
const log = (msg) => process.stderr.write(`[peragus bench setup] ${msg}\n`);

export function setupBenchPeers() {
  const stamp = createHash('sha256')
    .update(readFileSync(requirements))
    .update(readFileSync(join(root, 'kernels', 'pysd', 'requirements.txt')))
    .update(kernelVenv)
    .digest('hex');
  const python = join(venv, 'bin', 'python');
  if (stampMatches(python, stampFile, stamp)) return python;
  log(`creating the bench peers' venv in ${venv}`);
  if (!existsSync(python))
    execFileSync(join(kernelVenv, 'bin', 'python'), ['-m', 'venv', '--without-pip', venv]);
  writeFileSync(join(sitePackages(venv), 'peragus_kernel_venv.pth'), `${sitePackages(kernelVenv)}\n`);
  // pip from the kernel venv installs into the bench venv (--prefix) without re-resolving.
  execFileSync(
    join(kernelVenv, 'bin', 'python'),
    [
      '-m',
      'pip',
      'install',
      '--quiet',
      '--disable-pip-version-check',
      '--no-deps',
      '--no-warn-script-location',
      '--prefix',
      venv,
      '-r',
      requirements,
    ],
    { stdio: 'inherit' },
  );
  writeFileSync(stampFile, `${stamp}\n`);
  log('bench peers ready');
  return python;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) setupBenchPeers();

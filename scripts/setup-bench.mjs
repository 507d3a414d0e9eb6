#!/usr/bin/env node
// Set-up for `npm run bench` only: the peers' venvs, each from a pinned file and
// installed with --no-deps (the file is the full pinned set), each seeing the
// kernel venv's site-packages through a .pth file, so numpy/pandas/pysd/ipykernel
// are the very versions Peragus runs:
// - bench/peers/.venv: EMA Workbench, papermill (bench/peers/requirements.txt);
// - bench/peers/prefect/.venv: Prefect 3 (bench/peers/prefect-requirements.txt),
//   apart because Prefect pins its own pydantic, httpx and SQLAlchemy.
// Each venv has its own pip (see peerVenv). Idempotent: a stamp in each venv holds the hash of its pinned file and the kernel's.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sitePackages, stampMatches } from './python-env.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const kernelVenv = process.env.PERAGUS_VENV ?? join(root, 'kernels', 'pysd', '.venv');
const log = (msg) => process.stderr.write(`[peragus bench setup] ${msg}\n`);

/** Makes (once per pinned set) a venv over the kernel venv with `requirements`; returns its python. */
function peerVenv(venv, requirements, what) {
  const stamp = createHash('sha256')
    .update(readFileSync(requirements))
    .update(readFileSync(join(root, 'kernels', 'pysd', 'requirements.txt')))
    .update(kernelVenv)
    .digest('hex');
  const python = join(venv, 'bin', 'python');
  const stampFile = join(venv, '.peragus-bench-stamp');
  if (stampMatches(python, stampFile, stamp)) return python;
  log(`creating the ${what} venv in ${venv}`);
  mkdirSync(dirname(venv), { recursive: true });
  // With pip of its own: a pin that differs from the kernel venv's (Prefect's python-dateutil)
  // is then installed here and shadows it ("outside environment"), where the kernel venv's pip
  // with --prefix would uninstall the kernel's own copy first.
  if (!existsSync(join(venv, 'bin', 'pip')))
    execFileSync(join(kernelVenv, 'bin', 'python'), ['-m', 'venv', '--clear', venv], { stdio: 'inherit' });
  writeFileSync(join(sitePackages(venv), 'peragus_kernel_venv.pth'), `${sitePackages(kernelVenv)}\n`);
  execFileSync(
    python,
    ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-deps', '-r', requirements],
    { stdio: 'inherit' },
  );
  // The kernel venv is Peragus's own: a peer's set-up that touched it is a bug, said at once.
  try {
    execFileSync(join(kernelVenv, 'bin', 'python'), ['-m', 'pip', 'check'], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(
      `the ${what} set-up left the kernel venv broken (${String(err.stdout ?? err.message).trim()}): ` +
        'run node scripts/setup.mjs after removing kernels/pysd/.venv',
    );
  }
  writeFileSync(stampFile, `${stamp}\n`);
  log(`${what} ready`);
  return python;
}

/** The EMA Workbench and papermill venv's python. */
export function setupBenchPeers() {
  return peerVenv(
    join(root, 'bench', 'peers', '.venv'),
    join(root, 'bench', 'peers', 'requirements.txt'),
    'bench peers',
  );
}

/** The Prefect venv's python. */
export function setupPrefectPeer() {
  return peerVenv(
    join(root, 'bench', 'peers', 'prefect', '.venv'),
    join(root, 'bench', 'peers', 'prefect-requirements.txt'),
    'Prefect peer',
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  setupBenchPeers();
  setupPrefectPeer();
}

#!/usr/bin/env node
// Idempotent set-up run by `npm start`, `npm test` and `npm run bench`:
// creates the PySD kernel's venv from the pinned requirements and links the
// peragus_pysd package into it. Skips work when the stamp matches.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findPython, sitePackages, stampMatches } from './python-env.mjs';
import { setupPeers } from './setup-peers.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const kernelDir = join(root, 'kernels', 'pysd');
const venv = process.env.PERAGUS_VENV ?? join(kernelDir, '.venv');
const requirements = join(kernelDir, 'requirements.txt');
const stampFile = join(venv, '.peragus-stamp');
const log = (msg) => process.stderr.write(`[peragus setup] ${msg}\n`);

// A fresh clone: install the npm packages first, so `npm start` / `npm test`
// are the only commands a user needs.
if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) {
  log('installing npm packages (npm install, from package-lock.json)');
  execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
}

// The CLI bundle (no TypeScript compiler at run time; rebuilt only when a source changed).
{
  const { buildBundle } = await import('./build-bundle.mjs');
  if (await buildBundle()) log('built the CLI bundle (dist/bundle/cli/peragus.mjs)');
}

const stamp = createHash('sha256').update(readFileSync(requirements)).update('v1').digest('hex');
const venvPython = join(venv, 'bin', 'python');
if (stampMatches(venvPython, stampFile, stamp)) {
  ensurePth();
  systemSetup();
  process.exit(0);
}

log(`creating the PySD kernel environment in ${venv} (first run only; a few minutes)`);
if (!existsSync(venvPython)) {
  mkdirSync(dirname(venv), { recursive: true });
  execFileSync(findPython(), ['-m', 'venv', venv], { stdio: 'inherit' });
}
execFileSync(
  venvPython,
  ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', requirements],
  {
    stdio: 'inherit',
  },
);
ensurePth();
writeFileSync(stampFile, `${stamp}\n`);
log('kernel environment ready');
systemSetup();

// A .pth file puts kernels/pysd/python on the venv's path, so edits to
// peragus_pysd take effect without reinstalling.
function ensurePth() {
  const pth = join(sitePackages(venv), 'peragus_pysd.pth');
  const want = `${join(kernelDir, 'python')}\n`;
  if (!existsSync(pth) || readFileSync(pth, 'utf8') !== want) writeFileSync(pth, want);
}

// `--system` (used by `npm test`): as root with apt, install the Debian
// packages (chromium, docker.io, debootstrap), start dockerd and build the
// experiment image, so a fresh machine runs every test. Elsewhere the Docker
// and browser tests say loudly that they cannot run (and fail in CI).
function systemSetup() {
  if (!process.argv.includes('--system')) return;
  // The Python test peers (tests/peers/requirements.txt): only `npm test` needs them.
  setupPeers();
  const isRoot = process.getuid?.() === 0;
  let hasApt = true;
  try {
    execFileSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' });
  } catch {
    hasApt = false;
  }
  if (!isRoot || !hasApt) {
    log('not root with apt-get: skipping system packages and the Docker image (those tests will say so)');
    return;
  }
  for (const script of ['install-system-deps.sh', 'ci-docker.sh']) {
    try {
      execFileSync('bash', [join(root, 'scripts', script)], { stdio: 'inherit' });
    } catch (err) {
      if (process.env.CI) throw err;
      log(`${script} failed (${err.message}); the tests that need it will report it`);
      return;
    }
  }
}

#!/usr/bin/env node
// Idempotent: the test peers' Python venv (tests/peers/.venv) from the pinned
// tests/peers/requirements.txt — Jupyter Server (GatewayClient), papermill,
// nbclient and whatever other engineers add there. Run by setup.mjs for
// `npm test`; skipped when the stamp (the file's hash) matches.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findPython, stampMatches } from './python-env.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const peers = join(root, 'tests', 'peers');
const venv = process.env.PERAGUS_PEERS_VENV ?? join(peers, '.venv');
const requirements = join(peers, 'requirements.txt');
const stampFile = join(venv, '.peragus-stamp');
const log = (msg) => process.stderr.write(`[peragus setup] ${msg}\n`);

export function setupPeers() {
  const stamp = createHash('sha256').update(readFileSync(requirements)).update('v1').digest('hex');
  const python = join(venv, 'bin', 'python');
  if (stampMatches(python, stampFile, stamp)) return;
  log(`creating the test peers' environment in ${venv} (jupyter_server, papermill, ...)`);
  if (!existsSync(python)) {
    mkdirSync(dirname(venv), { recursive: true });
    execFileSync(findPython(), ['-m', 'venv', venv], { stdio: 'inherit' });
  }
  execFileSync(
    python,
    ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', requirements],
    {
      stdio: 'inherit',
    },
  );
  writeFileSync(stampFile, `${stamp}\n`);
  log('test peers ready');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) setupPeers();

// The test peers' Python environment: tests/peers/.venv from the pinned
// tests/peers/requirements.txt (official Python clients the tests drive
// Peragus with). Idempotent: skipped while the stamp matches the requirements.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function ensurePeersVenv(root, python, log) {
  const dir = join(root, 'tests', 'peers');
  const requirements = join(dir, 'requirements.txt');
  if (!existsSync(requirements)) return;
  const venv = join(dir, '.venv');
  const venvPython = join(venv, 'bin', 'python');
  const stampFile = join(venv, '.peragus-stamp');
  const stamp = createHash('sha256').update(readFileSync(requirements)).update('peers-v1').digest('hex');
  if (existsSync(venvPython) && existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === stamp)
    return;
  log(`creating the test peers' environment in ${venv}`);
  if (!existsSync(venvPython)) execFileSync(python(), ['-m', 'venv', venv], { stdio: 'inherit' });
  execFileSync(
    venvPython,
    ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', requirements],
    {
      stdio: 'inherit',
    },
  );
  writeFileSync(stampFile, `${stamp}\n`);
}

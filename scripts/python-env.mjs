// Shared by the set-up scripts (kernel venv, test peers, bench peers): the base
// Python, a venv's site-packages, and the stamp that makes each step idempotent.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A Python 3.10+ to make venvs with: PERAGUS_BASE_PYTHON, python3.11 or python3. */
export function findPython() {
  for (const candidate of [process.env.PERAGUS_BASE_PYTHON, 'python3.11', 'python3']) {
    if (!candidate) continue;
    try {
      execFileSync(candidate, ['-c', 'import sys; assert sys.version_info >= (3, 10)'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // try the next candidate
    }
  }
  throw new Error('Python 3.10+ not found: install python3 (3.11 recommended) or set PERAGUS_BASE_PYTHON.');
}

/** The site-packages folder of a venv. */
export function sitePackages(venv) {
  const lib = join(venv, 'lib');
  const py = readdirSync(lib).find((d) => d.startsWith('python3'));
  if (!py) throw new Error(`no python3.x folder in ${lib}`);
  return join(lib, py, 'site-packages');
}

/** Whether the venv's python exists and its stamp file holds `stamp` (the step already ran). */
export function stampMatches(python, stampFile, stamp) {
  return existsSync(python) && existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === stamp;
}

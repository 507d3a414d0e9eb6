// The peragus_pysd package's own Python tests (unittest), run with the
// kernel's venv so `npm test` covers them too.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/sd-models.ts';

describe('peragus_pysd Python tests', () => {
  it('pass under unittest', () => {
    const python = process.env.PERAGUS_PYTHON ?? join(REPO, 'kernels/pysd/.venv/bin/python');
    const r = spawnSync(python, ['-m', 'unittest', 'discover', '-s', 'kernels/pysd/tests'], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: 900_000,
      env: { ...process.env, MPLBACKEND: 'Agg' },
    });
    const tail = `${r.stdout}\n${r.stderr}`.split('\n').slice(-40).join('\n');
    expect(r.status, tail).toBe(0);
    expect(r.stderr).toMatch(/Ran \d+ tests?/);
    expect(r.stderr).toMatch(/\nOK/);
  }, 900_000);
});

// Issue 16: over every SDXorg test model that runs under PySD here, an LHS of 64
// over its constants (±10 %) gives the same values (1e-9 relative) with
// vectorise "on" (what "auto" runs when it can) as per run, or falls back per run with a
// stated reason.
// Prints the table and the fraction that ran vectorised. Each model is
// translated once (vectorise_suite.py loads it once and runs both modes).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, requireSdModels } from '../helpers/sd-models.ts';
import { conformanceCandidates } from './conformance.ts';

interface Row {
  model: string;
  status: 'equal' | 'differs' | 'fallback' | 'load-error' | 'run-error' | 'no-constants';
  mode: 'vectorised' | 'per_run' | null;
  reason: string | null;
  detail: string;
}

const suite = requireSdModels();
const PYTHON = process.env.PERAGUS_PYTHON ?? join(REPO, 'kernels/pysd/.venv/bin/python');

function runSuite(models: [string, string][], cwd: string): Promise<Row[]> {
  return new Promise((ok, fail) => {
    const child = spawn(PYTHON, [join(REPO, 'tests/pysd/vectorise_suite.py'), JSON.stringify(models)], {
      cwd,
      env: { ...process.env, PERAGUS_PYSD_CACHE: join(cwd, 'cache') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', fail);
    child.on('close', (code) => {
      if (code !== 0) return fail(new Error(`vectorise_suite.py exited ${code}: ${err.slice(-2000)}`));
      ok(
        out
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Row),
      );
    });
  });
}

function formatRows(rows: Row[]): string {
  const w = Math.max(5, ...rows.map((r) => r.model.length));
  const lines = [`${'model'.padEnd(w)}  ${'status'.padEnd(12)}  ${'mode'.padEnd(10)}  detail / reason`];
  for (const r of rows) {
    const why = r.mode === 'per_run' ? (r.reason ?? '') : r.detail;
    lines.push(`${r.model.padEnd(w)}  ${r.status.padEnd(12)}  ${(r.mode ?? '-').padEnd(10)}  ${why}`);
  }
  return lines.join('\n');
}

describe.skipIf(!suite)('vectorised sweeps over the SDXorg test models', () => {
  it('give the per-run values or fall back with a reason', async () => {
    const candidates = conformanceCandidates(suite as string);
    expect(candidates.length).toBeGreaterThanOrEqual(25);
    const dir = mkdtempSync(join(tmpdir(), 'peragus-vectorise-suite-'));
    try {
      const rows = await runSuite(
        candidates.map((c) => [c.name, join(c.dir, c.mdl)]),
        dir,
      );
      expect(rows.length).toBe(candidates.length);
      const compared = rows.filter((r) => ['equal', 'differs', 'fallback'].includes(r.status));
      const vectorised = compared.filter((r) => r.mode === 'vectorised');
      const fraction = compared.length ? vectorised.length / compared.length : 0;
      process.stdout.write(
        `\n${formatRows(rows)}\n\n${vectorised.length} of ${compared.length} models that run here ran vectorised ` +
          `(${(100 * fraction).toFixed(0)} %); the others fell back per run with the reason shown\n\n`,
      );
      expect(rows.filter((r) => r.status === 'differs')).toEqual([]);
      for (const r of compared) {
        if (r.status === 'fallback') expect(r.reason, r.model).toMatch(/\S/);
        else expect(r.mode, r.model).toBe('vectorised');
      }
      expect(compared.length).toBeGreaterThanOrEqual(25);
      expect(vectorised.length).toBeGreaterThanOrEqual(10);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 1_800_000);
});

// The acceptance check of a session doing real PySD work: teacup.mdl loaded
// with pysd.read_vensim in a cell matches the reference output.csv.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { SessionManager } from '../../notebook-server/src/notebook/manager.ts';
import { realKernels, streamText, tempRoot } from './helpers.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const modelsDir = process.env.PERAGUS_SD_TEST_MODELS ?? resolve(repoRoot, '../shared/sd-test-models');
const teacupDir = join(modelsDir, 'samples', 'teacup');
const present = existsSync(join(teacupDir, 'teacup.mdl')) && existsSync(join(teacupDir, 'output.csv'));
const allowMissing = process.env.PERAGUS_ALLOW_NO_SD_MODELS === '1';

// The cell copies the model into the session's work dir first: read_vensim
// writes the translated .py beside the .mdl, and the shared models stay untouched.
const cellCode = (mdl: string, csv: string) => `
import json, shutil, os
import numpy as np, pandas as pd, pysd
shutil.copy(${JSON.stringify(mdl)}, 'teacup.mdl')
m = pysd.read_vensim('teacup.mdl')
expected = pd.read_csv(${JSON.stringify(csv)}, index_col='Time')
got = m.run(return_columns=list(expected.columns), return_timestamps=expected.index.values)
diffs = {}
for col in expected.columns:
    np.testing.assert_allclose(got[col].values, expected[col].values, rtol=1e-5, atol=1e-5, err_msg=col)
    # allclose's criterion, |got - want| <= atol + rtol * |want|, as a margin (<= 0 passes).
    want = expected[col].values
    diffs[col] = float(np.max(np.abs(got[col].values - want) - (1e-5 + 1e-5 * np.abs(want))))
print(json.dumps({"rows": len(got), "columns": list(expected.columns), "excess": diffs, "cwd": os.getcwd()}))
`;

describe('teacup through a notebook session (real kernel + PySD)', () => {
  const tmp = tempRoot('teacup');
  const manager = new SessionManager({ root: tmp.root, kernelSource: realKernels });
  afterAll(async () => {
    await manager.close();
    tmp.cleanup();
  });

  const run = present || !allowMissing ? it : it.skip;
  run('loads teacup.mdl with pysd.read_vensim and matches output.csv within rtol=atol=1e-5', async () => {
    if (!present) {
      throw new Error(
        `SD TEST MODELS MISSING: ${teacupDir} (teacup.mdl, output.csv) not found. ` +
          'Set PERAGUS_SD_TEST_MODELS to the sd-test-models folder, or PERAGUS_ALLOW_NO_SD_MODELS=1 to skip.',
      );
    }
    const s = await manager.create({ name: 'Teacup', experiment_id: 'exp-teacup' });
    const cell = await s.addCell({
      source: cellCode(join(teacupDir, 'teacup.mdl'), join(teacupDir, 'output.csv')),
      filename: 'teacup.py',
    });
    const r = await s.execute(cell.id, { timeoutMs: 90_000 });
    if (r.status !== 'ok') throw new Error(`teacup cell failed: ${JSON.stringify(r.error, null, 1)}`);
    const summary = JSON.parse(streamText(r.outputs).trim().split('\n').at(-1) ?? '{}');
    expect(summary.cwd).toBe(s.workDir);
    expect(summary.rows).toBeGreaterThan(100);
    expect(summary.columns).toEqual(
      expect.arrayContaining(['Teacup Temperature', 'Heat Loss to Room', 'Room Temperature']),
    );
    for (const excess of Object.values(summary.excess)) expect(excess).toBeLessThanOrEqual(0);
    expect(existsSync(join(s.workDir, 'teacup.py'))).toBe(true);
  });
});

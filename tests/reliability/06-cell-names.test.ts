// Item 6: two pysd_experiment_run calls of one type in one session get
// distinct cell file names, so the notebook keeps being saved and exports; a
// cell whose outputs cannot be saved (the disk filled up while it ran) fails
// its call with a notebook.error event, and once space is back nothing
// completed is missing after a restart.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SessionEvent } from '../../notebook-server/src/notebook/events.ts';
import { REPO } from '../helpers/sd-models.ts';
import { canMount, hostAt, tempFilesUnder, tmpfs } from './helpers.ts';

const mounted = canMount();
const fs = mounted ? tmpfs(48) : null;
afterAll(() => fs?.release());

const FILL = `import os
f = open('fill.bin', 'wb')
try:
    while True:
        f.write(b'\\0' * (1 << 20))
        f.flush()
except OSError as e:
    print('disk full, errno', e.errno)
finally:
    try:
        f.close()
    except OSError:
        pass
`;

describe.runIf(mounted)('cell file names and persistence', () => {
  it('keeps every completed cell: unique names, persist failures fail the call', async () => {
    const home = fs!.dir;
    let t = await hostAt(home);
    const errors: SessionEvent[] = [];
    t.host.notebook.events.subscribe((e) => errors.push(e), { types: ['notebook.error'] });

    const nb = await t.call('notebook_create', { name: 'names', experiment_id: 'names-1' });
    const sid = nb.session_id as string;
    const loaded = await t.call('pysd_model_load', {
      session_id: sid,
      source: 'models/sir.mdl',
      content: readFileSync(join(REPO, 'notebooks/models/sir.mdl'), 'utf8'),
    });
    const lhs = (seed: number) => ({
      session_id: sid,
      model_id: loaded.model_id,
      experiment: { type: 'lhs', samples: 4, seed, parameters: { 'Contact Rate': [2, 8] } },
    });
    await t.call('pysd_experiment_run', lhs(1));
    await t.call('pysd_experiment_run', lhs(2));
    const cells = t.host.notebook.sessions.get(sid).cells;
    const names = cells.map((c) => (c.cell_type === 'code' ? c.filename : undefined)).filter(Boolean);
    expect(names).toEqual(['load_model.py', 'run_experiment_lhs.py', 'run_experiment_lhs_2.py']);
    expect(errors).toEqual([]);
    const exported = await t.call('notebook_export', { session_id: sid, format: 'srcmd' });
    expect((exported.artifacts as unknown[]).length).toBeGreaterThan(0);

    // The cell fills the disk, then completes: its outputs cannot be saved.
    const failed = await t.callError('cell_add', { session_id: sid, source: FILL, execute: true });
    expect(failed).toMatch(/could not be saved/);
    expect(failed).toMatch(/ENOSPC|no space/i);
    expect(errors.some((e) => e.type === 'notebook.error' && e.code === 'persist_failed')).toBe(true);
    const fillCell = t.host.notebook.sessions.get(sid).cells.at(-1)!;
    expect(fillCell.cell_type === 'code' && JSON.stringify(fillCell.outputs)).toMatch(/disk full, errno 28/);

    // Space comes back: the next change writes everything, the failed save included.
    const workDir = nb.work_dir as string;
    rmSync(join(workDir, 'fill.bin'), { force: true });
    await t.call('cell_add', { session_id: sid, source: 'print("after")', execute: true });
    const before = t.host.notebook.sessions.get(sid).cells;
    await t.close();
    expect(tempFilesUnder(home)).toEqual([]);

    t = await hostAt(home);
    try {
      const after = t.host.notebook.sessions.get(sid).cells;
      expect(after.map((c) => c.id)).toEqual(before.map((c) => c.id));
      for (const [i, c] of after.entries()) {
        const b = before[i]!;
        if (c.cell_type === 'code' && b.cell_type === 'code') {
          expect(c.filename).toBe(b.filename);
          expect(c.outputs).toEqual(b.outputs);
        }
      }
      expect(JSON.stringify(after)).toMatch(/disk full, errno 28/);
      expect(JSON.stringify(after)).toMatch(/after/);
    } finally {
      await t.close();
    }
  }, 600_000);
});

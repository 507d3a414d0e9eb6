// Sessions on the warm pool (the production kernel source): the kernel runs in
// the session's work dir and PySD is already imported.
import { afterAll, describe, expect, it } from 'vitest';
import { KernelPool } from '../../notebook-server/src/kernel/pool.ts';
import { SessionManager } from '../../notebook-server/src/notebook/manager.ts';
import { streamText, tempRoot } from './helpers.ts';

describe('sessions on a warm kernel pool', () => {
  const tmp = tempRoot('pool');
  const pool = new KernelPool({ size: 1 });
  const manager = new SessionManager({ root: tmp.root, kernelSource: (o) => pool.acquire(o) });
  afterAll(async () => {
    await manager.close();
    await pool.shutdown();
    tmp.cleanup();
  });

  it('runs in the session work dir with pysd pre-imported', async () => {
    await pool.whenFull();
    const s = await manager.create({ name: 'Pooled' });
    const cell = await s.addCell({
      source: "import os, sys\nprint(os.getcwd())\nprint('pysd' in sys.modules)",
    });
    const r = await s.execute(cell.id);
    expect(streamText(r.outputs)).toBe(`${s.workDir}\nTrue\n`);
  });
});

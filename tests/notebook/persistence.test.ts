// Sessions survive a server restart: a new SessionManager on the same root
// reopens every session with its cells and completed outputs.
import { readFileSync, rmSync, statSync, watch, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SessionManager } from '../../notebook-server/src/notebook/manager.ts';
import { sessionFile } from '../../notebook-server/src/notebook/store.ts';
import { decodeBundle } from '../../srcmd/src/bundle.ts';
import { capture, realKernels, streamText, tempRoot } from './helpers.ts';

describe('session persistence (real kernel)', () => {
  const tmp = tempRoot('persist');
  const managers: SessionManager[] = [];
  const open = () => {
    const m = new SessionManager({ root: tmp.root, kernelSource: realKernels });
    managers.push(m);
    return m;
  };
  afterAll(async () => {
    for (const m of managers) await m.close();
    tmp.cleanup();
  });

  it('writes a completed cell’s outputs to disk before the completed event', async () => {
    const m = open();
    const s = await m.create({ name: 'Ordering', experiment_id: 'exp-order' });
    const cell = await s.addCell({ source: 'print("saved first")' });
    const { notebook_file } = s.info();
    let onDisk: string | null = null;
    const stop = m.bus.subscribe((e) => {
      // Read synchronously inside the listener: what a crash right now would leave behind.
      if (e.type === 'notebook.cell.completed' && e.cell_id === cell.id) {
        onDisk = readFileSync(notebook_file.replace(/\.src\.md$/, '.outputs.json'), 'utf8');
      }
    });
    await s.execute(cell.id);
    stop();
    expect(onDisk).not.toBeNull();
    const nb = decodeBundle(readFileSync(notebook_file, 'utf8'), onDisk);
    const saved = nb.cells.find((c) => c.id === cell.id);
    expect(saved?.cell_type === 'code' && streamText(saved.outputs)).toBe('saved first\n');
    await m.close();
  });

  it('reopens every session with its cells and completed outputs after a restart', async () => {
    const m1 = open();
    const a = await m1.create({ name: 'Alpha run', experiment_id: 'exp-alpha' });
    const intro = await a.addCell({ cell_type: 'markdown', source: '# Alpha\nsome *notes*' });
    const c1 = await a.addCell({ source: 'x = 21\nprint("x set")', filename: 'set_x.py' });
    const c2 = await a.addCell({ source: 'x * 2' });
    const c3 = await a.addCell({ source: 'raise RuntimeError("boom")' });
    const never = await a.addCell({ source: 'print("never ran")' });
    await a.execute(c1.id);
    await a.execute(c2.id);
    await a.execute(c3.id);
    const b = await m1.create({ name: 'Beta', experiment_id: 'exp-beta' });
    const b1 = await b.addCell({ source: 'print("beta")' });
    await b.execute(b1.id);
    const before = { a: a.info(), b: b.info() };
    const lastSeq = a.info().seq;
    expect(a.info().notebook_file).toBe(join(tmp.root, 'exp-alpha', 'alpha-run.src.md'));

    // Simulate a server restart: drop the manager, open a new one on the same root.
    await m1.close();
    const m2 = open();
    const report = await m2.reopenAll();
    expect(report.failed).toEqual([]);
    // (the first test's session is under the same root too)
    expect(report.reopened.map((s) => s.id)).toEqual(expect.arrayContaining([a.id, b.id]));

    const a2 = m2.get(a.id);
    expect(a2.state).toBe('not_started');
    expect(a2.experimentId).toBe('exp-alpha');
    expect(a2.name).toBe('Alpha run');
    expect(a2.cells).toEqual(before.a.cells);
    expect(a2.cells.map((c) => c.id)).toEqual([intro.id, c1.id, c2.id, c3.id, never.id]);
    const get = (id: string) => {
      const c = a2.getCell(id);
      if (c.cell_type !== 'code') throw new Error('expected a code cell');
      return c;
    };
    expect(streamText(get(c1.id).outputs)).toBe('x set\n');
    expect(get(c1.id).filename).toBe('set_x.py');
    expect(get(c2.id)).toMatchObject({
      execution_count: 2,
      outputs: [expect.objectContaining({ output_type: 'execute_result', data: { 'text/plain': '42' } })],
    });
    expect(get(c3.id).outputs[0]).toMatchObject({ output_type: 'error', ename: 'RuntimeError' });
    expect(get(never.id).outputs).toEqual([]);
    expect(a2.getCellRun(c2.id).status).toBe('ok');
    expect(a2.getCellRun(c3.id)).toMatchObject({ status: 'error', error: { ename: 'RuntimeError' } });
    expect(m2.get(b.id).cells).toEqual(before.b.cells);

    // Event seqs go on above anything a client saw before the restart.
    const cap = capture(m2.bus, a.id);
    // The kernel starts lazily on the next execute, in a fresh process (x is gone).
    const r = await a2.execute(c2.id);
    expect(r.error).toMatchObject({ ename: 'NameError' });
    expect(a2.state).toBe('idle');
    expect(Math.min(...cap.events.map((e) => e.seq))).toBeGreaterThan(lastSeq);
    cap.stop();

    // Deleting a session removes it from the next reopen; its notebook files stay.
    await m2.delete(b.id);
    await m2.close();
    const m3 = open();
    const again = await m3.reopenAll();
    expect(again.reopened.map((s) => s.id)).toContain(a.id);
    expect(again.reopened.map((s) => s.id)).not.toContain(b.id);
    expect(readFileSync(before.b.notebook_file, 'utf8')).toContain('print("beta")');
  });

  it('rewrites only the files a save changes, and restores one changed behind its back', async () => {
    const m = open();
    const s = await m.create({ name: 'Quiet saves', experiment_id: 'exp-quiet' });
    const cell = await s.addCell({ source: 'print("once")' });
    const srcmd = s.info().notebook_file;
    const outputs = srcmd.replace(/\.src\.md$/, '.outputs.json');
    const inode = (path: string) => statSync(path).ino;
    const before = { srcmd: inode(srcmd), outputs: inode(outputs) };
    // A run changes outputs and the run record, not the cells' sources.
    await s.execute(cell.id);
    expect(inode(srcmd)).toBe(before.srcmd);
    expect(inode(outputs)).not.toBe(before.outputs);
    const onDisk = () => decodeBundle(readFileSync(srcmd, 'utf8'), readFileSync(outputs, 'utf8')).cells;
    expect(onDisk()).toEqual(s.cells);

    // Code in the work dir edits the notebook in place (same size) and deletes the outputs. The
    // next save (a run: the sources are unchanged) writes both again, because neither is what
    // the session last wrote.
    const text = readFileSync(srcmd, 'utf8');
    writeFileSync(srcmd, text.replace('once', 'ONCE'));
    rmSync(outputs);
    await s.execute(cell.id);
    expect(readFileSync(srcmd, 'utf8')).toBe(text);
    expect(onDisk()).toEqual(s.cells);
    await m.close();
  });

  it('keeps a long cell running and the one behind it queued on disk, and writes a quick cell’s run once', async () => {
    const m = open();
    const s = await m.create({ name: 'Run states', experiment_id: 'exp-states' });
    const slow = await s.addCell({ source: 'import time\ntime.sleep(1.5)' });
    const next = await s.addCell({ source: 'print("next")' });
    const record = sessionFile(s.workDir, s.id);
    const runsOnDisk = () =>
      JSON.parse(readFileSync(record, 'utf8')).runs as Record<string, { status: string }>;
    const executing = new Promise<void>((resolve) => {
      const stop = m.bus.subscribe((e) => {
        if (e.type === 'notebook.cell.executing' && e.cell_id === slow.id) resolve(stop());
      });
    });
    const done = s.execute('all');
    await executing;
    // What a crash now would leave: the reopened session reports the slow cell stopped by the
    // server and the next one cancelled (settleStaleRuns), not cells that never ran.
    await new Promise((r) => setTimeout(r, 500));
    expect(runsOnDisk()[slow.id]?.status).toBe('running');
    expect(runsOnDisk()[next.id]?.status).toBe('queued');
    await done;
    expect(runsOnDisk()[next.id]?.status).toBe('ok');

    // A quick cell: queued, running and completed reach the disk as one replace of the record.
    const quick = await s.addCell({ source: 'print("quick")' });
    const replaced: string[] = [];
    const watcher = watch(dirname(record), (_event, name) => {
      if (name === basename(record)) replaced.push(String(name));
    });
    try {
      await s.execute(quick.id);
      await new Promise((r) => setTimeout(r, 400)); // past the quiet delay: nothing more is written
    } finally {
      watcher.close();
    }
    expect(replaced).toHaveLength(1);
    expect(runsOnDisk()[quick.id]?.status).toBe('ok');

    // A cancel nobody waits for is still on disk once the session closes.
    const blocker = await s.addCell({ source: 'import time\ntime.sleep(0.5)' });
    const cancelled = await s.addCell({ source: 'print("never")' });
    const runs = [s.execute(blocker.id), s.execute(cancelled.id)];
    await new Promise((r) => setTimeout(r, 100));
    expect(s.cancel([cancelled.id])).toEqual([cancelled.id]);
    await Promise.all(runs);
    await s.close();
    expect(runsOnDisk()[blocker.id]?.status).toBe('ok');
    expect(runsOnDisk()[cancelled.id]?.status).toBe('cancelled');
    await m.close();
  });

  it('reports a corrupt session on reopen without failing the others', async () => {
    const m1 = open();
    const good = await m1.create({ name: 'Good' });
    const bad = await m1.create({ name: 'Bad' });
    await m1.close();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(sessionFile(bad.workDir, bad.id), '{ not json');
    const m2 = open();
    const report = await m2.reopenAll();
    expect(report.reopened.map((s) => s.id)).toContain(good.id);
    expect(report.failed).toEqual([
      expect.objectContaining({ session_id: bad.id, error: expect.stringMatching(/not valid JSON/) }),
    ]);
    await m2.close();
  });
});

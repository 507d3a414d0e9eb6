// A session on a real ipykernel: outputs of every kind, event order and ids,
// the serial queue, cell editing, and unknown cell ids.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CellNotFoundError } from '../../notebook-server/src/notebook/errors.ts';
import { SessionEvent } from '../../notebook-server/src/notebook/events.ts';
import { SessionManager } from '../../notebook-server/src/notebook/manager.ts';
import type { Session } from '../../notebook-server/src/notebook/session.ts';
import { capture, realKernels, streamText, tempRoot } from './helpers.ts';

describe('notebook session (real kernel)', () => {
  const tmp = tempRoot('session');
  const manager = new SessionManager({ root: tmp.root, kernelSource: realKernels });
  let session: Session;

  beforeAll(async () => {
    session = await manager.create({ name: 'Outputs', experiment_id: 'exp-outputs' });
  });
  afterAll(async () => {
    await manager.close();
    tmp.cleanup();
  });

  it('runs cells with stream, display, result and error outputs, events in order with correct ids', async () => {
    const cap = capture(manager.bus, session.id);
    const stream = await session.addCell({
      source: 'import sys\nprint("hello")\nprint("oops", file=sys.stderr)',
    });
    const display = await session.addCell({
      source: 'from IPython.display import display, HTML\ndisplay(HTML("<b>bold</b>"))',
    });
    const result = await session.addCell({ source: '6 * 7' });
    const error = await session.addCell({ source: 'raise ValueError("bad value")' });
    expect(session.state).toBe('not_started');

    const r1 = await session.execute(stream.id);
    expect(r1.status).toBe('ok');
    expect(streamText(r1.outputs)).toBe('hello\n');
    expect(streamText(r1.outputs, 'stderr')).toBe('oops\n');

    const r2 = await session.execute(display.id);
    expect(r2.outputs).toEqual([
      expect.objectContaining({
        output_type: 'display_data',
        data: expect.objectContaining({ 'text/html': '<b>bold</b>' }),
      }),
    ]);

    const r3 = await session.execute(result.id);
    expect(r3.outputs).toEqual([
      expect.objectContaining({
        output_type: 'execute_result',
        data: expect.objectContaining({ 'text/plain': '42' }),
      }),
    ]);
    expect(r3.execution_count).toBe(3);

    const r4 = await session.execute(error.id);
    expect(r4.status).toBe('error');
    expect(r4.error).toMatchObject({ kind: 'exception', ename: 'ValueError', evalue: 'bad value' });
    expect(r4.outputs[0]).toMatchObject({ output_type: 'error', ename: 'ValueError' });

    // The stored cells carry the same outputs and execution counts.
    expect(session.getCell(result.id)).toMatchObject({ execution_count: 3, outputs: r3.outputs });
    expect(session.getCellRun(error.id).status).toBe('error');
    expect(session.state).toBe('idle');

    // Every event matches the one schema and carries the session's ids; seq strictly increases.
    for (const e of cap.events) {
      expect(SessionEvent.parse(e)).toEqual(e);
      expect(e.session_id).toBe(session.id);
      expect(e.experiment_id).toBe('exp-outputs');
    }
    const seqs = cap.events.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);

    // Per cell: executing, then its outputs, then completed, and nothing of the cell afterwards.
    for (const [cell, status, outputs] of [
      [stream.id, 'ok', 2],
      [display.id, 'ok', 1],
      [result.id, 'ok', 1],
      [error.id, 'error', 1],
    ] as const) {
      const mine = cap.events.filter(
        (e) => e.cell_id === cell && e.type !== 'notebook.state.changed' && e.type !== 'notebook.error',
      );
      expect(mine.map((e) => e.type)).toEqual([
        'notebook.cell.executing',
        ...Array(outputs).fill('notebook.cell.output'),
        'notebook.cell.completed',
      ]);
      expect(mine.at(-1)).toMatchObject({ status });
    }
    // The kernel started lazily: starting -> idle before the first executing event.
    const firstExec = cap.events.findIndex((e) => e.type === 'notebook.cell.executing');
    const before = cap.events.slice(0, firstExec).filter((e) => e.type === 'notebook.state.changed');
    const transitions = before.map((e) => e.state).filter((s, i, all) => s !== all[i - 1]);
    expect(transitions).toEqual(['not_started', 'starting', 'idle', 'busy']);
    cap.stop();
  });

  it('runs cells one at a time; queued cells are visible as queued', async () => {
    const a = await session.addCell({ source: 'import time\ntime.sleep(0.5)\nprint("a")' });
    const b = await session.addCell({ source: 'print("b")' });
    const cap = capture(manager.bus, session.id);
    const pa = session.execute(a.id);
    const pb = session.execute(b.id);
    expect(session.getCellRun(b.id).status).toBe('queued');
    expect(session.info().queued_cell_ids).toContain(b.id);
    await cap.waitFor((e) => e.type === 'notebook.cell.executing' && e.cell_id === a.id);
    expect(session.info()).toMatchObject({ running_cell_id: a.id, queued_cell_ids: [b.id], state: 'busy' });
    const [ra, rb] = await Promise.all([pa, pb]);
    expect([streamText(ra.outputs), streamText(rb.outputs)]).toEqual(['a\n', 'b\n']);
    const order = cap.events
      .filter((e) => e.type === 'notebook.cell.executing' || e.type === 'notebook.cell.completed')
      .map((e) => `${e.type.split('.').at(-1)}:${e.cell_id}`);
    expect(order).toEqual([
      `executing:${a.id}`,
      `completed:${a.id}`,
      `executing:${b.id}`,
      `completed:${b.id}`,
    ]);
    const queuedState = cap.events.find(
      (e) => e.type === 'notebook.state.changed' && e.reason === 'queued' && e.queued_cell_ids.includes(b.id),
    );
    expect(queuedState).toBeDefined();
    cap.stop();
  });

  it("execute('all') runs code cells in order and stops at the first error", async () => {
    const s = await manager.create({ name: 'Run all' });
    await s.addCell({ cell_type: 'markdown', source: '# Title' });
    const one = await s.addCell({ source: 'x = 1' });
    const bad = await s.addCell({ source: '1 / 0' });
    const never = await s.addCell({ source: 'print("never")' });
    const results = await s.execute('all');
    expect(results.map((r) => [r.cell_id, r.status])).toEqual([
      [one.id, 'ok'],
      [bad.id, 'error'],
      [never.id, 'cancelled'],
    ]);
    expect(s.getCellRun(never.id).status).toBe('cancelled');
    await manager.delete(s.id);
  });

  it('adds at positions, updates (clearing outputs) and deletes cells', async () => {
    const s = await manager.create({ name: 'Editing' });
    const a = await s.addCell({ source: 'print(1)' });
    const c = await s.addCell({ source: 'print(3)' });
    const b = await s.addCell({ source: 'print(2)' }, { after: a.id });
    const first = await s.addCell({ cell_type: 'markdown', source: 'intro' }, { index: 0 });
    expect(s.cells.map((x) => x.id)).toEqual([first.id, a.id, b.id, c.id]);
    for (const cell of s.cells) expect(cell.id).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);

    await s.execute(a.id);
    expect(s.getCell(a.id)).toMatchObject({ outputs: [expect.objectContaining({ output_type: 'stream' })] });
    await s.updateCell(a.id, { source: 'print(10)' });
    expect(s.getCell(a.id)).toMatchObject({ source: 'print(10)', outputs: [], execution_count: null });
    await s.deleteCell(b.id);
    expect(s.cells.map((x) => x.id)).toEqual([first.id, a.id, c.id]);
    await manager.delete(s.id);
    expect(() => manager.get(s.id)).toThrow(/session ".*" not found/);
  });

  it('reports an unknown cell id with an error naming the id and the session', async () => {
    const check = (err: unknown) => {
      expect(err).toBeInstanceOf(CellNotFoundError);
      expect((err as Error).message).toBe(`cell "nope" not found in session "${session.id}"`);
    };
    for (const attempt of [() => session.getCell('nope'), () => session.getCellRun('nope')]) {
      try {
        attempt();
        expect.unreachable();
      } catch (err) {
        check(err);
      }
    }
    for (const attempt of [
      () => session.execute('nope'),
      () => session.updateCell('nope', { source: 'x' }),
      () => session.deleteCell('nope'),
      () => session.addCell({ source: 'x' }, { after: 'nope' }),
    ]) {
      await attempt().then(() => expect.unreachable(), check);
    }
  });
});

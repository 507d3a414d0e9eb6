// Interrupts, cancels, timeouts, and a kernel that kills itself, on a real ipykernel.
import { afterAll, describe, expect, it } from 'vitest';
import { SessionDeadError } from '../../notebook-server/src/notebook/errors.ts';
import { SessionManager } from '../../notebook-server/src/notebook/manager.ts';
import { capture, realKernels, streamText, tempRoot } from './helpers.ts';

describe('notebook session life cycle (real kernel)', () => {
  const tmp = tempRoot('lifecycle');
  const manager = new SessionManager({ root: tmp.root, kernelSource: realKernels });
  afterAll(async () => {
    await manager.close();
    tmp.cleanup();
  });

  it('interrupts a 60 s sleep within 2 s and the queue goes on', async () => {
    const s = await manager.create({ name: 'Interrupt' });
    const sleep = await s.addCell({ source: 'import time\ntime.sleep(60)' });
    const next = await s.addCell({ source: 'print("after")' });
    const cap = capture(manager.bus, s.id);
    const pSleep = s.execute(sleep.id);
    const pNext = s.execute(next.id);
    await cap.waitFor((e) => e.type === 'notebook.cell.executing' && e.cell_id === sleep.id);
    await new Promise((r) => setTimeout(r, 300)); // let Python enter the sleep
    const t0 = performance.now();
    expect(await s.interrupt()).toBe(true);
    const rSleep = await pSleep;
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(rSleep.status).toBe('error');
    expect(rSleep.error).toMatchObject({ kind: 'exception', ename: 'KeyboardInterrupt' });
    const rNext = await pNext;
    expect(rNext.status).toBe('ok');
    expect(streamText(rNext.outputs)).toBe('after\n');
    cap.stop();
  });

  it('cancels queued cells; the running cell finishes', async () => {
    const s = await manager.create({ name: 'Cancel' });
    const slow = await s.addCell({ source: 'import time\ntime.sleep(0.5)\nprint("slow")' });
    const q1 = await s.addCell({ source: 'print("q1")' });
    const q2 = await s.addCell({ source: 'print("q2")' });
    const [pSlow, p1, p2] = [s.execute(slow.id), s.execute(q1.id), s.execute(q2.id)];
    expect(s.cancel([q1.id])).toEqual([q1.id]);
    expect(s.info().queued_cell_ids).toEqual([q2.id]);
    expect((await p1).status).toBe('cancelled');
    expect((await pSlow).status).toBe('ok');
    expect((await p2).status).toBe('ok');
    expect(s.getCellRun(q1.id).status).toBe('cancelled');
  });

  it('a cell past its timeout is interrupted and reported as a timeout', async () => {
    const s = await manager.create({ name: 'Timeout' });
    const warm = await s.addCell({ source: 'pass' });
    const cell = await s.addCell({ source: 'import time\ntime.sleep(30)' });
    await s.execute(warm.id); // start the kernel first: the bound below is about the timeout, not start-up
    const cap = capture(manager.bus, s.id);
    const t0 = performance.now();
    const r = await s.execute(cell.id, { timeoutMs: 500 });
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(r.status).toBe('error');
    expect(r.error).toMatchObject({ kind: 'timeout', ename: 'CellTimeoutError' });
    expect(r.error?.evalue).toMatch(/500 ms timeout/);
    const err = await cap.waitFor((e) => e.type === 'notebook.error');
    expect(err).toMatchObject({ code: 'cell_timeout', cell_id: cell.id });
    // The kernel survived the interrupt and keeps its state.
    const after = await s.addCell({ source: 'print("still here")' });
    expect(streamText((await s.execute(after.id)).outputs)).toBe('still here\n');
    cap.stop();
  });

  it('a kernel that exits is reported within 3 s; the session restarts and runs again', async () => {
    const s = await manager.create({ name: 'Death' });
    const ok = await s.addCell({ source: 'print("before")' });
    const die = await s.addCell({ source: 'import os; os._exit(1)' });
    const queued = await s.addCell({ source: 'print("queued")' });
    expect((await s.execute(ok.id)).status).toBe('ok');

    const cap = capture(manager.bus, s.id);
    const t0 = performance.now();
    const pDie = s.execute(die.id);
    const pQueued = s.execute(queued.id);
    const err = await cap.waitFor((e) => e.type === 'notebook.error', 3000);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(err).toMatchObject({ code: 'kernel_died', cell_id: die.id, session_id: s.id });
    const rDie = await pDie;
    expect(rDie.status).toBe('error');
    expect(rDie.error?.kind).toBe('kernel_died');
    expect(s.getCellRun(die.id).status).toBe('error');
    expect((await pQueued).status).toBe('cancelled');
    expect(s.state).toBe('dead');
    expect(cap.events.some((e) => e.type === 'notebook.state.changed' && e.state === 'dead')).toBe(true);
    await expect(s.execute(ok.id)).rejects.toBeInstanceOf(SessionDeadError);

    await s.restart();
    expect(s.state).toBe('idle');
    // Completed outputs survive the restart.
    const kept = s.getCell(ok.id);
    expect(kept.cell_type === 'code' && streamText(kept.outputs)).toBe('before\n');
    const again = await s.addCell({ source: 'print("reborn")' });
    const r = await s.execute(again.id);
    expect(r.status).toBe('ok');
    expect(streamText(r.outputs)).toBe('reborn\n');
    cap.stop();
  });

  it('restart() of a live session cancels the running cell and gives a fresh kernel', async () => {
    const s = await manager.create({ name: 'Restart' });
    const set = await s.addCell({ source: 'x = 5' });
    const sleep = await s.addCell({ source: 'import time\ntime.sleep(60)' });
    const read = await s.addCell({ source: "print('x' in globals())" });
    await s.execute(set.id);
    const cap = capture(manager.bus, s.id);
    const pSleep = s.execute(sleep.id);
    await cap.waitFor((e) => e.type === 'notebook.cell.executing' && e.cell_id === sleep.id);
    await s.restart();
    expect(await pSleep).toMatchObject({ status: 'cancelled', error: { ename: 'KernelRestarted' } });
    expect(streamText((await s.execute(read.id)).outputs)).toBe('False\n');
    cap.stop();
  });
});

describe('a cell that ignores the interrupt (real kernel)', () => {
  const tmp = tempRoot('wedged');
  const manager = new SessionManager({ root: tmp.root, kernelSource: realKernels });
  afterAll(async () => {
    await manager.close();
    tmp.cleanup();
  });

  it('after the grace period its kernel is replaced and the next cell runs on a fresh one', async () => {
    const s = await manager.create({ name: 'Wedged' });
    const set = await s.addCell({ source: 'marker = 1' });
    const stubborn = await s.addCell({
      source: 'import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(60)',
    });
    const read = await s.addCell({ source: "print('marker' in globals())" });
    await s.execute(set.id);
    const cap = capture(manager.bus, s.id);
    const t0 = performance.now();
    const r = await s.execute(stubborn.id, { timeoutMs: 300, interruptGraceMs: 700 });
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(r).toMatchObject({ status: 'error', error: { kind: 'timeout' } });
    expect(r.outputs.at(-1)).toMatchObject({ output_type: 'error', ename: 'CellTimeoutError' });
    const errors = cap.events.filter((e) => e.type === 'notebook.error');
    expect(errors.map((e) => e.type === 'notebook.error' && e.code)).toEqual([
      'cell_timeout',
      'cell_timeout',
    ]);
    expect(s.state).toBe('not_started');
    expect(streamText((await s.execute(read.id)).outputs)).toBe('False\n');
    cap.stop();
  });
});

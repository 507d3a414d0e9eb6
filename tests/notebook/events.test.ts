// The event schema and EventBus on their own (no kernel needed), plus a
// kernel source that fails to start (no kernel involved either).
import { describe, expect, it } from 'vitest';
import { EventBus, SessionEvent, type SessionEventOf } from '../../notebook-server/src/notebook/events.ts';
import { SessionManager } from '../../notebook-server/src/notebook/manager.ts';
import { capture, tempRoot } from './helpers.ts';

const ev = (session_id: string, seq: number): SessionEventOf<'notebook.cell.executing'> => ({
  type: 'notebook.cell.executing',
  experiment_id: 'e',
  session_id,
  cell_id: 'c1',
  timestamp: new Date().toISOString(),
  seq,
});

describe('SessionEvent schema', () => {
  it('accepts every event type and rejects one without seq or with a wrong type', () => {
    const base = { experiment_id: 'e', session_id: 's', timestamp: new Date().toISOString(), seq: 1 };
    const samples = [
      { type: 'notebook.cell.executing', ...base, cell_id: 'c' },
      {
        type: 'notebook.cell.output',
        ...base,
        cell_id: 'c',
        output: { output_type: 'stream', name: 'stdout', text: 'x' },
        output_index: 0,
      },
      {
        type: 'notebook.cell.completed',
        ...base,
        cell_id: 'c',
        status: 'ok',
        execution_count: 1,
        duration_ms: 3,
      },
      {
        type: 'notebook.state.changed',
        ...base,
        cell_id: null,
        state: 'idle',
        running_cell_id: null,
        queued_cell_ids: [],
      },
      { type: 'notebook.error', ...base, cell_id: null, code: 'kernel_died', message: 'gone' },
      { type: 'experiment.progress', ...base, cell_id: null, progress: 3, total: 10 },
    ];
    for (const s of samples) expect(SessionEvent.safeParse(s).success).toBe(true);
    expect(SessionEvent.safeParse({ ...samples[0], seq: undefined }).success).toBe(false);
    expect(SessionEvent.safeParse({ ...samples[0], type: 'notebook.cell.exploded' }).success).toBe(false);
  });
});

describe('EventBus', () => {
  it('filters by session, unsubscribes, and isolates a throwing listener', () => {
    const failures: unknown[] = [];
    const bus = new EventBus({ onListenerError: (err) => failures.push(err) });
    const all: number[] = [];
    const onlyA: number[] = [];
    bus.subscribe(() => {
      throw new Error('broken socket');
    });
    const offAll = bus.subscribe((e) => all.push(e.seq));
    bus.subscribe((e) => onlyA.push(e.seq), { session_id: 'a' });
    bus.publish(ev('a', 1));
    bus.publish(ev('b', 1));
    offAll();
    bus.publish(ev('a', 2));
    expect(all).toEqual([1, 1]);
    expect(onlyA).toEqual([1, 2]);
    expect(failures).toHaveLength(3);
  });

  it('replays recent events of a session after a given seq, bounded', () => {
    const bus = new EventBus({ replayLimit: 3 });
    for (let i = 1; i <= 5; i++) bus.publish(ev('a', i));
    bus.publish(ev('b', 1));
    expect(bus.replay('a', 3).map((e) => e.seq)).toEqual([4, 5]);
    expect(bus.replay('a').map((e) => e.seq)).toEqual([3, 4, 5]);
    bus.forget('a');
    expect(bus.replay('a')).toEqual([]);
  });
});

describe('a kernel that does not start', () => {
  it('fails the cell, reports kernel_start_failed, and a later execute tries again', async () => {
    const tmp = tempRoot('nostart');
    let attempts = 0;
    const manager = new SessionManager({
      root: tmp.root,
      kernelSource: async () => {
        attempts++;
        throw Object.assign(new Error('no python here'), { stderrTail: 'ModuleNotFoundError: ipykernel' });
      },
    });
    const s = await manager.create({ name: 'No kernel' });
    const cell = await s.addCell({ source: '1' });
    const cap = capture(manager.bus, s.id);
    const r = await s.execute(cell.id);
    expect(r).toMatchObject({ status: 'error', error: { kind: 'kernel_died', ename: 'KernelStartFailed' } });
    expect(cap.events.find((e) => e.type === 'notebook.error')).toMatchObject({
      code: 'kernel_start_failed',
      cell_id: cell.id,
      stderr_tail: 'ModuleNotFoundError: ipykernel',
    });
    expect(s.state).toBe('not_started');
    await s.execute(cell.id);
    expect(attempts).toBe(2);
    await manager.close();
    tmp.cleanup();
  });
});

// Item 10: {"op":"resume"} on /events, sent while a cell streams output, and
// a reconnect with after_seq: every event of the session arrives exactly once
// and in seq order, whatever after_seq the client names.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { SessionEvent } from '../../notebook-server/src/notebook/events.ts';
import { startTestHost, type TestHost } from '../http/helpers.ts';
import { until } from './helpers.ts';

let t: TestHost;
beforeAll(async () => {
  t = await startTestHost();
});
afterAll(async () => {
  await t?.close();
});

function openEvents(url: string, into: SessionEvent[]): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as { type: string };
      if (m.type !== 'error') into.push(m as SessionEvent);
    });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

const STREAM = `import time
for i in range(60):
    print(i, flush=True)
    time.sleep(0.02)
`;

describe('/events resume', () => {
  it('delivers every event once, in order, across resumes and a reconnect', async () => {
    const session = await t.sessions.create({ name: 'resume' });
    const url = (q: string) =>
      `${t.host.url.replace(/^http/, 'ws')}events?session_id=${session.id}&token=${t.token}${q}`;
    const first: SessionEvent[] = [];
    const ws = await openEvents(url(''), first);
    const cell = await session.addCell({ source: STREAM });
    const running = session.execute(cell.id);
    // Resume repeatedly mid-stream, with after_seq values at and below what was delivered.
    await until(() => first.length >= 10, 60_000, 'ten events');
    for (const back of [0, 3, 8, -1]) {
      const seen = first.at(-1)!.seq;
      ws.send(JSON.stringify({ op: 'resume', session_id: session.id, after_seq: Math.max(-1, seen - back) }));
      await new Promise((r) => setTimeout(r, 50));
    }
    await running;
    await until(
      () => first.some((e) => e.type === 'notebook.cell.completed' && e.cell_id === cell.id),
      60_000,
      'the cell to complete',
    );
    // What this client saw is what arrived before its socket closed (a frame in flight still counts).
    await new Promise<void>((done) => {
      ws.once('close', () => done());
      ws.close();
    });
    const seqs = first.map((e) => e.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));

    // Missed while disconnected, then reconnect after the last seq seen.
    const cell2 = await session.addCell({ source: STREAM });
    await session.execute(cell2.id);
    const second: SessionEvent[] = [];
    const ws2 = await openEvents(url(`&after_seq=${seqs.at(-1)}`), second);
    await until(
      () => second.some((e) => e.type === 'notebook.cell.completed' && e.cell_id === cell2.id),
      60_000,
      'the second cell’s events',
    );
    ws2.send(JSON.stringify({ op: 'resume', session_id: session.id, after_seq: seqs.at(-1) }));
    await new Promise((r) => setTimeout(r, 200));
    ws2.close();

    const all = [...first, ...second].map((e) => e.seq);
    const expected = t.bus.replay(session.id, -1).map((e) => e.seq);
    // Exactly the session's events from the first one this client saw, each once, in order.
    expect(all).toEqual(expected.filter((s) => s >= seqs[0]!));
  }, 180_000);
});

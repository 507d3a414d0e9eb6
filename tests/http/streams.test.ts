// The two live streams: /events (session events with resume by seq) and kernel
// channels replaying what a client missed while it reconnected.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { decodeFrame, encodeV1, V1_PROTOCOL } from '../../notebook-server/src/http/jupyter/framing.ts';
import type { Message } from '../../notebook-server/src/kernel/wire.ts';
import type { SessionEvent } from '../../notebook-server/src/notebook/events.ts';
import { startTestHost, type TestHost } from './helpers.ts';

let t: TestHost;
beforeAll(async () => {
  t = await startTestHost();
});
afterAll(async () => {
  await t?.close();
});

const wsUrl = (path: string) => `${t.host.url.replace(/^http/, 'ws')}${path.replace(/^\//, '')}`;

/** Opens a socket; `onMessage` is attached before the handshake, so frames sent right after it are not missed. */
function open(url: string, protocols?: string[], onMessage?: (d: Buffer) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols);
    if (onMessage) ws.on('message', onMessage);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

async function openEvents(url: string): Promise<{ ws: WebSocket; events: SessionEvent[] }> {
  const events: SessionEvent[] = [];
  const ws = await open(url, undefined, (d) => events.push(JSON.parse(String(d)) as SessionEvent));
  return { ws, events };
}

async function until(check: () => boolean, ms = 60_000): Promise<void> {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('/events', () => {
  it('streams a session’s events in seq order and resumes after the last seq seen', async () => {
    const session = await t.sessions.create({ name: 'events' });
    const { ws, events: seen } = await openEvents(wsUrl(`/events?session_id=${session.id}&token=${t.token}`));
    const cell = await session.addCell({ source: 'print("one")' });
    await session.execute(cell.id);
    await until(() => seen.some((e) => e.type === 'notebook.cell.completed'));
    const types = seen.map((e) => e.type);
    expect(types).toContain('notebook.cell.executing');
    expect(types).toContain('notebook.cell.output');
    const seqs = seen.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    const out = seen.find((e) => e.type === 'notebook.cell.output');
    expect(out?.type === 'notebook.cell.output' && out.output.output_type === 'stream').toBe(true);

    // Disconnect, miss some events, resume.
    const last = seqs.at(-1) as number;
    ws.close();
    const cell2 = await session.addCell({ source: 'print("two")' });
    await session.execute(cell2.id);
    const { ws: ws2, events: resumed } = await openEvents(
      wsUrl(`/events?session_id=${session.id}&after_seq=${last}&token=${t.token}`),
    );
    await until(() => resumed.some((e) => e.type === 'notebook.cell.completed'));
    expect(resumed[0]?.seq).toBe(last + 1);
    expect(resumed.every((e) => e.seq > last && e.session_id === session.id)).toBe(true);
    expect(resumed.some((e) => e.type === 'notebook.cell.executing' && e.cell_id === cell2.id)).toBe(true);

    // Resume asked for later on the same socket: what this socket already got is not sent again.
    const before = resumed.length;
    ws2.send(JSON.stringify({ op: 'resume', session_id: session.id, after_seq: last }));
    ws2.send('not json');
    await until(() => resumed.some((e) => (e as { type: string }).type === 'error'));
    expect(resumed.length).toBe(before + 1);
    expect(ws2.readyState).toBe(WebSocket.OPEN);
    ws2.close();
  });
});

describe('kernel channels', () => {
  it('replays messages a client missed when it reconnects with the same session_id', async () => {
    const res = await fetch(new URL('/api/kernels', t.host.url), {
      method: 'POST',
      headers: { Authorization: `token ${t.token}`, 'Content-Type': 'application/json' },
      body: '{}',
    });
    const { id } = (await res.json()) as { id: string };
    const url = wsUrl(`/api/kernels/${id}/channels?session_id=client-A&token=${t.token}`);
    const first = await open(url, [V1_PROTOCOL]);
    const header = {
      msg_id: 'A-1',
      msg_type: 'execute_request',
      session: 'client-A',
      username: 't',
      date: new Date().toISOString(),
      version: '5.3',
    };
    const content = { code: 'import time\ntime.sleep(1.5)\nprint("missed me")', silent: false };
    first.send(encodeV1({ channel: 'shell', header, parent_header: {}, metadata: {}, content } as never));
    await new Promise((r) => setTimeout(r, 300));
    first.terminate();
    await new Promise((r) => setTimeout(r, 2500));

    const got: Message[] = [];
    const second = await open(url, [V1_PROTOCOL], (d) =>
      got.push(decodeFrame(d, true, 'v1', { anyChannel: true })),
    );
    await until(() => got.some((m) => m.header.msg_type === 'execute_reply'));
    const stream = got.find((m) => m.header.msg_type === 'stream');
    expect((stream?.content as { text?: string } | undefined)?.text).toContain('missed me');
    expect(got.every((m) => (m.parent_header as { msg_id?: string }).msg_id === 'A-1')).toBe(true);
    second.close();
    await fetch(new URL(`/api/kernels/${id}`, t.host.url), {
      method: 'DELETE',
      headers: { Authorization: `token ${t.token}` },
    });
  });
});

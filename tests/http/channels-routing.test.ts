// /api/kernels/{id}/channels as Jupyter Server routes it: a shell reply goes to
// the connection that sent the request, whatever its header.session says (a
// client may reuse or spoof another's session), and iopub goes to every
// connection.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestHost, type TestHost } from './helpers.ts';

interface Msg {
  channel: string;
  header: { msg_id: string; msg_type: string };
  parent_header: { msg_id?: string };
  content: Record<string, unknown>;
}

let t: TestHost;
let kernelId: string;

beforeAll(async () => {
  t = await startTestHost();
  const res = await fetch(new URL('api/kernels', t.host.url), {
    method: 'POST',
    headers: { authorization: `token ${t.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'peragus-pysd' }),
  });
  kernelId = ((await res.json()) as { id: string }).id;
}, 180_000);

afterAll(async () => {
  await t?.close();
});

async function connect(sessionId: string): Promise<{ ws: WebSocket; got: Msg[] }> {
  const url = `${t.host.url.replace(/^http/, 'ws')}api/kernels/${kernelId}/channels?session_id=${sessionId}&token=${t.token}`;
  const ws = new WebSocket(url); // no subprotocol: legacy JSON frames
  const got: Msg[] = [];
  ws.on('message', (d) => got.push(JSON.parse(String(d)) as Msg));
  await new Promise((r, j) => ws.once('open', r).once('error', j));
  return { ws, got };
}

function request(ws: WebSocket, session: string, msgType: string, content: Record<string, unknown>): string {
  const msgId = randomUUID();
  ws.send(
    JSON.stringify({
      channel: 'shell',
      header: {
        msg_id: msgId,
        session,
        username: 'u',
        date: new Date().toISOString(),
        msg_type: msgType,
        version: '5.3',
      },
      parent_header: {},
      metadata: {},
      content,
    }),
  );
  return msgId;
}

async function until(check: () => boolean, ms = 60_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const replies = (got: Msg[], id: string) =>
  got.filter((m) => m.channel === 'shell' && m.parent_header.msg_id === id);
const idle = (got: Msg[], id: string) =>
  got.some(
    (m) =>
      m.channel === 'iopub' &&
      m.parent_header.msg_id === id &&
      m.header.msg_type === 'status' &&
      m.content.execution_state === 'idle',
  );

describe('kernel channels routing', () => {
  it('delivers a shell reply to the sending connection whatever header.session says; iopub to all', async () => {
    const a = await connect('session-a');
    const b = await connect('session-b');
    try {
      // A sends with a session id that matches no connection.
      const m1 = request(a.ws, 'some-other-session', 'execute_request', {
        code: 'print(6 * 7)',
        silent: false,
        store_history: true,
        user_expressions: {},
        allow_stdin: false,
        stop_on_error: true,
      });
      await until(() => replies(a.got, m1).length === 1 && idle(b.got, m1) && idle(a.got, m1));
      expect(replies(a.got, m1)[0]?.header.msg_type).toBe('execute_reply');
      expect(replies(a.got, m1)[0]?.content.status).toBe('ok');
      // Both saw the output on iopub.
      for (const c of [a, b]) {
        expect(
          c.got.some(
            (m) =>
              m.header.msg_type === 'stream' &&
              m.parent_header.msg_id === m1 &&
              String(m.content.text).includes('42'),
          ),
        ).toBe(true);
      }

      // B claims to be A's session: the reply still goes to B, and only to B.
      const m2 = request(b.ws, 'session-a', 'kernel_info_request', {});
      await until(() => replies(b.got, m2).length === 1 && idle(a.got, m2));
      await new Promise((r) => setTimeout(r, 300));
      expect(replies(b.got, m2)[0]?.header.msg_type).toBe('kernel_info_reply');
      expect(replies(a.got, m2)).toHaveLength(0);
      expect(replies(b.got, m1)).toHaveLength(0);
    } finally {
      a.ws.close();
      b.ws.close();
    }
  }, 180_000);
});

// Bad input at the HTTP face: wrong token, unknown kernel, cross-origin, and
// malformed kernel frames that must not disturb other clients.
import { KernelManager, type KernelMessage } from '@jupyterlab/services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { encodeV1, V1_PROTOCOL } from '../../notebook-server/src/http/jupyter/framing.ts';
import { jupyterSettings, startTestHost, type TestHost } from './helpers.ts';

let t: TestHost;
beforeAll(async () => {
  t = await startTestHost();
});
afterAll(async () => {
  await t?.close();
});

const api = (path: string, init: RequestInit & { token?: string | null } = {}) => {
  const headers = new Headers(init.headers);
  const token = init.token === undefined ? t.token : init.token;
  if (token !== null) headers.set('Authorization', `token ${token}`);
  return fetch(new URL(path, t.host.url), { ...init, headers });
};

/** Resolves with the HTTP status of a refused upgrade, or 101 when it opened. */
function upgradeStatus(path: string, options: WebSocket.ClientOptions = {}): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(new URL(path, t.host.url.replace(/^http/, 'ws')), options);
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('error', () => {});
  });
}

describe('auth', () => {
  it('serves GET /api without a token (the version probe)', async () => {
    const res = await api('/api', { token: null });
    expect(res.status).toBe(200);
    expect(await res.json()).toHaveProperty('version');
  });

  it('refuses a wrong or missing token with 401 JSON, on REST and WS', async () => {
    for (const path of ['/api/kernels', '/api/sessions', '/api/contents', '/ui-api/sessions', '/']) {
      const wrong = await api(path, { token: 'nope' });
      expect(wrong.status, path).toBe(401);
      expect(await wrong.json()).toHaveProperty('message');
      expect((await api(path, { token: null })).status, path).toBe(401);
    }
    expect(await upgradeStatus('/events?token=nope')).toBe(401);
    expect(await upgradeStatus(`/events?token=${t.token}`)).toBe(101);
    // Query-string and Bearer forms work too.
    expect((await fetch(new URL(`/api/kernels?token=${t.token}`, t.host.url))).status).toBe(200);
    expect(
      (await api('/api/kernels', { token: null, headers: { Authorization: `Bearer ${t.token}` } })).status,
    ).toBe(200);
  });

  it('refuses cross-origin requests (403), allows same-origin ones', async () => {
    const evil = await api('/api/kernels', { headers: { Origin: 'http://evil.example' } });
    expect(evil.status).toBe(403);
    const evilPost = await api('/ui-api/sessions', {
      method: 'POST',
      headers: { Origin: 'http://evil.example', 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'x' }),
    });
    expect(evilPost.status).toBe(403);
    expect(t.sessions.list().some((s) => s.name === 'x')).toBe(false);
    const self = new URL(t.host.url).origin;
    expect((await api('/api/kernels', { headers: { Origin: self } })).status).toBe(200);
    expect(await upgradeStatus(`/events?token=${t.token}`, { origin: 'http://evil.example' })).toBe(403);
  });
});

describe('unknown kernel', () => {
  it('answers 404 with the Jupyter error shape on REST and on channels', async () => {
    const res = await api('/api/kernels/no-such-kernel');
    expect(res.status).toBe(404);
    const body = (await res.json()) as { message: string; reason: string };
    expect(body.message).toContain('no-such-kernel');
    expect(typeof body.reason).toBe('string');
    for (const [method, path] of [
      ['DELETE', '/api/kernels/no-such-kernel'],
      ['POST', '/api/kernels/no-such-kernel/interrupt'],
      ['POST', '/api/kernels/no-such-kernel/restart'],
      ['GET', '/api/sessions/no-such-session'],
      ['GET', '/api/contents/missing.ipynb'],
    ] as const) {
      const r = await api(path, { method });
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(Object.keys((await r.json()) as object).sort()).toEqual(['message', 'reason']);
    }
    expect(await upgradeStatus(`/api/kernels/no-such-kernel/channels?token=${t.token}`)).toBe(404);
  });
});

describe('malformed kernel frames', () => {
  it('drops them and logs, keeping the sender and other clients connected', async () => {
    const kernels = new KernelManager({ serverSettings: jupyterSettings(t, 'v1') });
    const good = await kernels.startNew({ name: 'peragus-pysd' });
    try {
      await good.info;
      const url = `${t.host.url.replace(/^http/, 'ws')}api/kernels/${good.id}/channels?session_id=bad-client&token=${t.token}`;
      const bad = new WebSocket(url, [V1_PROTOCOL]);
      await new Promise((resolve, reject) => {
        bad.once('open', resolve);
        bad.once('error', reject);
      });
      const badClosed = new Promise<number>((resolve) => bad.once('close', (code) => resolve(code)));
      const garbage: (Buffer | string)[] = [
        Buffer.from([1, 2, 3]),
        Buffer.alloc(64, 0xff),
        'not a binary frame in v1',
        encodeV1({ channel: 'iopub', header: { msg_id: 'x', msg_type: 'status', session: 's' } } as never),
        encodeV1({ channel: 'shell', header: { nope: true } } as never),
      ];
      for (const g of garbage) bad.send(g);

      // The other client still works…
      const future = good.requestExecute({ code: 'print("still here")' });
      let text = '';
      future.onIOPub = (m: KernelMessage.IIOPubMessage) => {
        if (m.header.msg_type === 'stream') text += (m.content as { text: string }).text;
      };
      const reply = await future.done;
      expect(reply.content.status).toBe('ok');
      expect(text).toContain('still here');
      // …and the sender is still connected and gets its own replies.
      expect(bad.readyState).toBe(WebSocket.OPEN);
      const reply2 = new Promise<string>((resolve) => {
        bad.on('message', (data: Buffer) => {
          const s = data.toString('latin1');
          if (s.includes('kernel_info_reply')) resolve('kernel_info_reply');
        });
      });
      const header = {
        msg_id: 'bad-client-1',
        msg_type: 'kernel_info_request',
        session: 'bad-client',
        username: 't',
        date: new Date().toISOString(),
        version: '5.3',
      };
      bad.send(encodeV1({ channel: 'shell', header, parent_header: {}, metadata: {}, content: {} } as never));
      expect(await reply2).toBe('kernel_info_reply');
      expect(t.logs.filter((l) => l.includes('malformed')).length).toBeGreaterThanOrEqual(garbage.length);
      bad.close();
      expect(await badClosed).toBe(1005);
    } finally {
      await good.shutdown();
      kernels.dispose();
    }
  });
});

describe('UI API', () => {
  it('validates bodies with the shared schemas and maps notebook errors to statuses', async () => {
    const json = (method: string, path: string, body?: unknown) =>
      api(path, {
        method,
        headers: { 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    expect((await json('POST', '/ui-api/sessions', { name: '' })).status).toBe(400);
    const created = await json('POST', '/ui-api/sessions', { name: 'ui-api' });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const bad = await json('POST', `/ui-api/sessions/${id}/cells`, { cell_type: 'raw' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
    const cell = (await (await json('POST', `/ui-api/sessions/${id}/cells`, { source: 'x = 1' })).json()) as {
      id: string;
    };
    expect((await json('PATCH', `/ui-api/sessions/${id}/cells/${cell.id}`, { source: 'x = 2' })).status).toBe(
      200,
    );
    expect((await json('PATCH', `/ui-api/sessions/${id}/cells/nope`, { source: '' })).status).toBe(404);
    expect((await json('GET', '/ui-api/sessions/nope')).status).toBe(404);
    expect((await json('POST', '/ui-api/sessions/nope/cells/x/execute', {})).status).toBe(404);
    const srcmd = await json('GET', `/ui-api/sessions/${id}/export?format=srcmd`);
    expect(await srcmd.text()).toContain('x = 2');
    const ipynb = (await (await json('GET', `/ui-api/sessions/${id}/export?format=ipynb`)).json()) as {
      nbformat: number;
    };
    expect(ipynb.nbformat).toBe(4);
    expect((await json('GET', `/ui-api/sessions/${id}/export?format=pdf`)).status).toBe(400);
    expect((await json('POST', '/ui-api/catalog/query', { sql: 'SELECT 1' })).status).toBe(501);
    expect(
      (await json('GET', `/ui-api/sessions/${id}/timeseries?path=../../etc/passwd`)).status,
    ).toBeGreaterThanOrEqual(403);
    expect((await json('DELETE', `/ui-api/sessions/${id}/cells/${cell.id}`)).status).toBe(204);
    expect((await json('DELETE', `/ui-api/sessions/${id}`)).status).toBe(204);
  });
});

// The browser UI's API also shows and drives sessions that live in experiment
// containers (created by an agent through MCP), via the host's router.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { remoteSessions } from '../../notebook-server/src/app/remote-sessions.ts';
import { type HostServer, startHostServer } from '../../notebook-server/src/http/server.ts';
import { startTestHost, type TestHost } from '../helpers/host.ts';

let t: TestHost;
let server: HostServer;
const token = 'remote-token';
const api = async (path: string, init: RequestInit = {}) => {
  const res = await fetch(`${server.url}${path.slice(1)}`, {
    ...init,
    headers: { Authorization: `token ${token}`, 'content-type': 'application/json', ...init.headers },
  });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
};

beforeAll(async () => {
  t = await startTestHost({ runtime: 'local' });
  server = await startHostServer({
    sessions: t.host.notebook.sessions,
    events: t.host.notebook.events,
    token,
    home: t.home,
    port: 0,
    buildUi: false,
    remote: remoteSessions(t.host.containers, t.host.router),
  });
});

afterAll(async () => {
  await server?.close();
  await t?.close();
});

describe('container sessions in the UI API', () => {
  it('lists, reads and runs cells of a session inside a container', async () => {
    const c = await t.call('container_create', { experiment_id: 'ui-remote' });
    const nb = await t.call('notebook_create', { name: 'in-container', container_id: c.container_id });
    const sid = nb.session_id as string;
    await t.call('cell_add', { session_id: sid, source: 'print("from the agent")', execute: true });

    const list = await api('/ui-api/sessions');
    expect(list.status).toBe(200);
    expect((list.body as { id: string }[]).map((s) => s.id)).toContain(sid);

    const one = await api(`/ui-api/sessions/${sid}`);
    const cells = (one.body as { cells: { outputs: { text?: string }[] }[] }).cells;
    expect(cells[0]?.outputs.map((o) => o.text).join('')).toContain('from the agent');

    const added = await api(`/ui-api/sessions/${sid}/cells`, {
      method: 'POST',
      body: JSON.stringify({ source: 'print(6 * 7)', execute: true }),
    });
    expect(added.status).toBe(201);
    const cellId = (added.body as { id: string }).id;
    let text = '';
    for (let i = 0; i < 100 && !text.includes('42'); i++) {
      await new Promise((r) => setTimeout(r, 200));
      const now = await api(`/ui-api/sessions/${sid}`);
      const cell = (now.body as { cells: { id: string; outputs: { text?: string }[] }[] }).cells.find(
        (x) => x.id === cellId,
      );
      text = cell?.outputs.map((o) => o.text).join('') ?? '';
    }
    expect(text).toContain('42');

    const exported = await fetch(`${server.url}ui-api/sessions/${sid}/export?format=srcmd`, {
      headers: { Authorization: `token ${token}` },
    });
    expect(await exported.text()).toContain('print(6 * 7)');
    const missing = await api('/ui-api/sessions/no-such-session');
    expect(missing.status).toBe(404);
  }, 300_000);
});

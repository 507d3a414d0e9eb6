// Paths and ids a browser client controls, abused: model ids, artifact paths,
// image paths, example names, plan and container ids. Each is refused without
// reading anything outside what it names.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHost, type Host } from '../../notebook-server/src/app/host.ts';
import { createWorkbench } from '../../notebook-server/src/app/workbench.ts';
import { type HostServer, startHostServer } from '../../notebook-server/src/http/server.ts';
import { sandboxOwner } from '../../notebook-server/src/sandbox/bwrap.ts';
import { breakoutAttempt, modelRunning } from '../helpers/code-model.ts';
import { REPO } from '../helpers/sd-models.ts';

let home: string;
let host: Host;
let server: HostServer;
let closeWb: () => Promise<void>;
const token = 'abuse-token';

async function get(path: string, init: RequestInit = {}): Promise<{ status: number; body: string }> {
  const res = await fetch(new URL(path, server.url), {
    ...init,
    headers: { Authorization: `token ${token}`, 'Content-Type': 'application/json', ...(init.headers ?? {}) },
  });
  return { status: res.status, body: await res.text() };
}

describe('workbench HTTP routes under abuse', () => {
  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'peragus-wb-abuse-'));
    host = await createHost({ home, poolSize: 0, resumePlans: false });
    const wb = await createWorkbench(host);
    closeWb = wb.close;
    server = await startHostServer({
      sessions: host.notebook.sessions,
      events: host.notebook.events,
      token,
      home,
      port: 0,
      buildUi: false,
      workbench: wb.workbench,
      containers: host.containers,
      log: () => {},
    });
    await host.catalog.upsertExperiment({ experiment_id: 'e1', status: 'finished' });
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await closeWb?.();
    await host?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('needs the token', async () => {
    const res = await fetch(new URL('/ui-api/models', server.url));
    expect(res.status).toBe(401);
  });

  // An uploaded model is described (stocks, flows, graph) by loading it with PySD, and loading a
  // model runs its code. That load used to run in a Python process of the host's own, as the host's
  // user, with the host's environment: this model then wrote where it liked and read the token.
  it("an uploaded model's code runs in the check's sandbox: no host file, no token, no network", async () => {
    const tag = randomBytes(4).toString('hex');
    const targets = [join(home, `pwned-${tag}`), join(REPO, `.pwned-${tag}`), `/etc/pwned-${tag}`];
    process.env.PERAGUS_TOKEN = `secret-${tag}`;
    try {
      const model = modelRunning([
        ...breakoutAttempt(targets),
        "token = os.environ.get('PERAGUS_TOKEN', 'none')",
        "raise RuntimeError('PAYLOAD uid=%d wrote=%s token=%s net=%s' % (os.getuid(), wrote, token, net))",
      ]);
      const r = await get('/ui-api/models', {
        method: 'POST',
        body: JSON.stringify({ filename: 'widgets.mdl', content: model }),
      });
      const uid = sandboxOwner()?.uid ?? process.getuid?.();
      // The code ran (its message is the refusal's), as the sandbox user, and did nothing.
      expect(r.status, r.body).toBe(422); // untranslatable_model
      expect(r.body).toMatch(new RegExp(`PAYLOAD uid=${uid} wrote=\\[\\] token=none net=no`));
      for (const p of targets) expect(existsSync(p), p).toBe(false);
    } finally {
      delete process.env.PERAGUS_TOKEN;
      for (const p of targets) rmSync(p, { force: true });
    }
  }, 120_000);

  it('refuses model ids that are paths', async () => {
    for (const id of ['..%2F..%2Fetc', '..', '%2Fetc%2Fpasswd', 'a%00b']) {
      const r = await get(`/ui-api/models/${id}`);
      expect(r.status, id).toBe(404);
      expect(r.body).not.toContain('root:');
    }
  });

  it('refuses uploads with path names, oversized or non-model content', async () => {
    const up = (filename: string, content: string) =>
      get('/ui-api/models', { method: 'POST', body: JSON.stringify({ filename, content }) });
    expect((await up('../../evil.mdl', 'a = 1 ~~|')).body).toContain('not a plain file name');
    expect((await up('/tmp/evil.mdl', 'a = 1 ~~|')).body).toContain('not a plain file name');
    const big = await up('big.mdl', `a = 1 ~ ~ |${'x'.repeat(21_000_000)}`);
    expect(big.status).toBe(400);
    expect(big.body).toContain('larger than 20 MB');
    expect((await up('x.exe', 'MZ')).body).toContain('not a model file');
  });

  it('serves only artifacts the catalog names, and session images inside the work dir', async () => {
    const a = await get(`/ui-api/results/e1/artifact?path=${encodeURIComponent('../../../../etc/passwd')}`);
    expect(a.status).toBe(404);
    expect((await get('/ui-api/results/..%2F..%2Fetc/artifact?path=x')).status).toBeGreaterThanOrEqual(400);
    const s = await host.notebook.sessions.create({ name: 'img' });
    const img = await get(
      `/ui-api/sessions/${s.id}/image?path=${encodeURIComponent('../../../../etc/passwd.png')}`,
    );
    expect([403, 404]).toContain(img.status);
    const notImage = await get(`/ui-api/sessions/${s.id}/image?path=${encodeURIComponent('/etc/passwd')}`);
    expect(notImage.status).toBe(400);
    expect(notImage.body).toContain('not an image');
  });

  it('opens only the shipped examples', async () => {
    for (const name of ['..%2Fpackage.json', '..%2F..%2Fetc%2Fpasswd', 'nope.src.md']) {
      const r = await get(`/ui-api/examples/notebooks/${name}/open`, { method: 'POST', body: '{}' });
      expect(r.status, name).toBe(404);
    }
    const m = await get('/ui-api/examples/models/..%2F..%2Fpackage.json', { method: 'POST', body: '{}' });
    expect(m.status).toBe(404);
  });

  it('answers unknown plan and container ids with 404', async () => {
    expect((await get('/ui-api/plans/..%2F..%2Fcatalog')).status).toBe(404);
    expect((await get('/ui-api/plans/plan-nope')).status).toBe(404);
    expect((await get('/ui-api/plans/plan-nope/cancel', { method: 'POST', body: '{}' })).status).toBe(404);
    expect((await get('/ui-api/containers/local-nope/logs')).status).toBe(404);
    expect((await get('/ui-api/containers/local-nope', { method: 'DELETE' })).status).toBe(404);
  });

  it('refuses a design for a model that does not exist, naming it', async () => {
    const r = await get('/ui-api/designs/check', {
      method: 'POST',
      body: JSON.stringify({ model_id: 'ghost-1', experiment: { type: 'single' } }),
    });
    expect(r.status).toBe(404);
    expect(r.body).toContain('no model \\"ghost-1\\"');
  });
});

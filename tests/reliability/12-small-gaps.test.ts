// Item 12: malformed JSON-RPC lines get a -32700 / -32600 reply on stdio;
// notebook_import refuses names with NUL or "../"; experiment_register_result
// checks lineage (another experiment's session or container is refused); the
// Host header is checked on every HTTP route and upgrade; an OOM-killed cell
// names the memory cap (Docker).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { dockerTestsEnabled } from '../helpers/docker.ts';
import { startTestHost } from '../http/helpers.ts';
import { BIN, hostAt } from './helpers.ts';

const homes: string[] = [];
function freshHome(): string {
  const h = mkdtempSync(join(tmpdir(), 'peragus-rel12-'));
  homes.push(h);
  return h;
}
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

describe('malformed JSON-RPC lines on stdio', () => {
  it('answers -32700 / -32600 and keeps serving', async () => {
    const child = spawn(process.execPath, [BIN, 'mcp'], {
      env: { ...process.env, PERAGUS_HOME: freshHome(), PERAGUS_POOL_SIZE: '0' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const replies: Record<string, unknown>[] = [];
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        replies.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
        buf = buf.slice(i + 1);
      }
    });
    const next = async (n: number) => {
      const end = performance.now() + 60_000;
      while (replies.length < n && performance.now() < end) await new Promise((r) => setTimeout(r, 20));
      return replies[n - 1];
    };
    try {
      child.stdin.write('{"jsonrpc": "2.0", "method": oops}\n');
      expect(await next(1)).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
      child.stdin.write('{"jsonrpc":"2.0","id":5,"params":[]}\n');
      expect(await next(2)).toMatchObject({ id: 5, error: { code: -32600 } });
      child.stdin.write(
        `${JSON.stringify({
          jsonrpc: '2.0',
          id: 6,
          method: 'initialize',
          params: {
            protocolVersion: '2025-06-18',
            capabilities: {},
            clientInfo: { name: 'raw', version: '1' },
          },
        })}\n`,
      );
      expect(await next(3)).toMatchObject({ id: 6, result: { serverInfo: { name: 'peragus' } } });
      expect(child.exitCode).toBeNull();
    } finally {
      child.kill('SIGTERM');
    }
  }, 120_000);
});

describe('host tools', () => {
  it('notebook_import refuses names with NUL or "../"; register_result checks lineage', async () => {
    const t = await hostAt(freshHome(), { runtime: 'local' });
    try {
      const header = '<!-- srcbook:{"language":"python"} -->\n\n';
      const content = `${header}# imported\n`;
      for (const name of ['a\u0000b', '../escape', 'x/../../y']) {
        const err = await t.callError('notebook_import', { content, name });
        expect(err).toMatch(/name/);
      }
      const titled = await t.callError('notebook_import', { content: `${header}# ../../etc/passwd\n` });
      expect(titled).toMatch(/name: the notebook title/);
      expect(t.host.notebook.sessions.list()).toHaveLength(0);

      const a = await t.call('notebook_create', { name: 'a', experiment_id: 'lin-a' });
      const b = await t.call('notebook_create', { name: 'b', experiment_id: 'lin-b' });
      const cross = await t.callError('experiment_register_result', {
        experiment_id: 'lin-a',
        session_id: b.session_id,
        metrics: { m: 1 },
      });
      expect(cross).toMatch(/session_id: session "[^"]+" belongs to experiment "lin-b", not "lin-a"/);
      const ghost = await t.callError('experiment_register_result', {
        experiment_id: 'lin-a',
        session_id: 'no-such-session',
        metrics: { m: 1 },
      });
      expect(ghost).toMatch(/session_id: no host session/);

      const c = await t.call('container_create', { experiment_id: 'lin-c' });
      const viaContainer = await t.callError('experiment_register_result', {
        experiment_id: 'lin-a',
        container_id: c.container_id,
        session_id: a.session_id,
        metrics: { m: 1 },
      });
      expect(viaContainer).toMatch(/container_id: container "[^"]+" belongs to experiment "lin-c"/);
      const inC = await t.call('notebook_create', { name: 'c', container_id: c.container_id });
      const wrongSession = await t.callError('experiment_register_result', {
        experiment_id: 'lin-c',
        container_id: c.container_id,
        session_id: a.session_id,
        metrics: { m: 1 },
      });
      expect(wrongSession).toMatch(/has no session/);
      // Nothing was registered by the refused calls; the right lineage registers.
      expect((await t.call('experiment_list', {})).experiments).toEqual([]);
      const ok = await t.call('experiment_register_result', {
        experiment_id: 'lin-c',
        container_id: c.container_id,
        session_id: inC.session_id,
        metrics: { m: 1 },
      });
      expect(ok.outcome).toBe('registered');
    } finally {
      await t.close();
    }
  }, 300_000);
});

function get(
  port: number,
  path: string,
  host: string,
  token: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, headers: { host, authorization: `token ${token}` } },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => {
          body += d.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('Host header', () => {
  it('is checked on every HTTP route and WebSocket upgrade', async () => {
    const t = await startTestHost();
    try {
      const port = Number(new URL(t.host.url).port);
      for (const path of ['/api', '/api/status', '/api/kernels', '/ui-api/sessions', '/', '/mcp']) {
        const bad = await get(port, path, `evil.example:${port}`, t.token);
        expect(bad.status, path).toBe(403);
        const message = (JSON.parse(bad.body) as { message?: string; error?: { message: string } }).message;
        expect(message).toMatch(/Host "evil.example:\d+" is not this server/);
      }
      for (const path of ['/api/status', '/ui-api/sessions']) {
        expect((await get(port, path, `127.0.0.1:${port}`, t.token)).status).toBe(200);
        expect((await get(port, path, `localhost:${port}`, t.token)).status).toBe(200);
      }
      const status = await new Promise<number>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/events?token=${t.token}`, {
          headers: { host: `evil.example:${port}` },
        });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
        ws.on('error', () => undefined);
      });
      expect(status).toBe(403);
    } finally {
      await t.close();
    }
  }, 120_000);
});

describe.runIf(dockerTestsEnabled())('out-of-memory kill (Docker)', () => {
  it('names the memory cap', async () => {
    const t = await hostAt(freshHome(), { runtime: 'docker' });
    try {
      const c = await t.call('container_create', { experiment_id: 'oom-1', resources: { memory: '1g' } });
      const nb = await t.call('notebook_create', { name: 'oom', container_id: c.container_id });
      const r = await t.call('cell_add', {
        session_id: nb.session_id,
        source: 'blocks = []\nwhile True:\n    blocks.append(bytearray(64 * 1024 * 1024))',
        execute: true,
      });
      const run = r.run as { status: string; error?: { evalue: string } };
      expect(run.status).toBe('error');
      expect(run.error?.evalue).toMatch(/out-of-memory killer.*memory cap of 1024 MiB.*resources\.memory/);
    } finally {
      await t.close();
    }
  }, 300_000);
});

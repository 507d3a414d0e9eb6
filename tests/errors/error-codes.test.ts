// One error base, mapped once per face: a PeragusError's code picks the HTTP
// status (http/errors.ts) and travels in an MCP tool error's _meta (mcp/tool.ts);
// anything else is an internal error (500).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../notebook-server/src/catalog/catalog.ts';
import { ERROR_CODES, ERROR_META_KEY, PeragusError } from '../../notebook-server/src/errors/index.ts';
import { statusOf } from '../../notebook-server/src/http/errors.ts';
import { SessionNotFoundError } from '../../notebook-server/src/notebook/errors.ts';
import { SrcmdParseError } from '../../srcmd/src/errors.ts';
import { type TestHost as RoutedHost, startTestHost as startRoutedHost } from '../helpers/host.ts';
import { startTestHost, type TestHost } from '../http/helpers.ts';

const repo = join(import.meta.dirname, '..', '..');

/** The error report an MCP tool error carries in its _meta. */
const metaOf = (r: { _meta?: unknown }) =>
  (r._meta as Record<string, { code: string; category: string; fix: string }> | undefined)?.[ERROR_META_KEY];

describe('the error table', () => {
  it('gives every code a category and a fix; subclasses keep their names and messages', () => {
    for (const [code, info] of Object.entries(ERROR_CODES)) {
      expect(info.fix.length, code).toBeGreaterThan(10);
    }
    const e = new SessionNotFoundError('s-1');
    expect(e).toBeInstanceOf(PeragusError);
    expect(e.name).toBe('SessionNotFoundError');
    expect(e.message).toBe('session "s-1" not found');
    expect([e.code, e.category]).toEqual(['session_not_found', 'not_found']);
    expect(e.fix).toMatch(/notebook_list/);
    const p = new SrcmdParseError(3, 'unclosed fence', 'close it with ```');
    expect([p.name, p.code, p.fix]).toEqual(['SrcmdParseError', 'srcmd_parse_error', 'close it with ```']);
  });

  it('maps by code, and anything that is no PeragusError to 500 internal', () => {
    expect(statusOf(new SessionNotFoundError('x')).status).toBe(404);
    expect(statusOf(new PeragusError('query_failed', 'syntax error')).status).toBe(400);
    // A class name that looks like an input error does not make it one.
    class ParseError extends Error {}
    expect(statusOf(new ParseError('boom'))).toMatchObject({
      status: 500,
      code: 'internal',
      message: 'boom',
    });
    expect(statusOf('a string')).toMatchObject({ status: 500, code: 'internal' });
  });
});

describe('UI API catalog query', () => {
  let t: TestHost;
  let catalog: Catalog;
  let failWith: Error | undefined;
  const home = mkdtempSync(join(tmpdir(), 'peragus-errors-'));
  beforeAll(async () => {
    catalog = await Catalog.open({ home });
    t = await startTestHost({
      catalogQuery: async (sql) => {
        if (failWith) throw failWith;
        const r = await catalog.query(sql);
        return { columns: r.columns.map((c) => c.name), rows: r.rows, truncated: r.truncated };
      },
    });
  });
  afterAll(async () => {
    catalog?.close();
    await t?.close();
    rmSync(home, { recursive: true, force: true });
  });

  const query = async (sql: string) => {
    const r = await fetch(new URL('/ui-api/catalog/query', t.host.url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `token ${t.token}` },
      body: JSON.stringify({ sql }),
    });
    return {
      status: r.status,
      body: (await r.json()) as { error?: { code: string; message: string; fix?: string } },
    };
  };

  it('a SQL typo is the caller’s input: 400 with its code and fix, not 500', async () => {
    const ok = await query('SELECT 1 AS one');
    expect(ok.status).toBe(200);
    const typo = await query('SELEC 1');
    expect(typo.status).toBe(400);
    expect(typo.body.error?.code).toBe('query_failed');
    expect(typo.body.error?.message).toMatch(/syntax error/i);
    expect(typo.body.error?.fix).toMatch(/fix the SQL/);
  });

  it('an unknown error (no PeragusError) stays 500 internal', async () => {
    failWith = new TypeError('cannot read properties of undefined');
    try {
      const r = await query('SELECT 1');
      expect(r.status).toBe(500);
      expect(r.body.error?.code).toBe('internal');
      expect(t.logs.join('\n')).toMatch(/TypeError: cannot read properties of undefined/);
    } finally {
      failWith = undefined;
    }
  });
});

describe('MCP tool errors carry their code', () => {
  let home: string;
  let client: Client;
  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'peragus-errors-mcp-'));
    client = new Client({ name: 'error-codes-test', version: '1' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [join(repo, 'bin/peragus.js'), 'mcp'],
        env: { ...process.env, PERAGUS_HOME: home, PERAGUS_POOL_SIZE: '1' } as Record<string, string>,
        stderr: 'ignore',
      }),
    );
  }, 120_000);
  afterAll(async () => {
    await client?.close();
    rmSync(home, { recursive: true, force: true });
  });

  const meta = (r: Awaited<ReturnType<Client['callTool']>>) =>
    (r._meta as Record<string, { code: string; category: string; fix: string }> | undefined)?.[
      ERROR_META_KEY
    ];

  it('a catalog SQL typo: isError, the message as text, the code in _meta', async () => {
    const r = await client.callTool({ name: 'catalog_query', arguments: { sql: 'SELEC 1' } });
    expect(r.isError).toBe(true);
    expect(JSON.stringify(r.content)).toMatch(/syntax error/i);
    expect(meta(r)).toMatchObject({ code: 'query_failed', category: 'invalid_input' });
    expect(meta(r)?.fix).toMatch(/fix the SQL/);
  });

  it('an unknown session: not_found with a fix naming notebook_list', async () => {
    const r = await client.callTool({
      name: 'notebook_export',
      arguments: { session_id: 'no-such-session', format: 'srcmd' },
    });
    expect(r.isError).toBe(true);
    expect(meta(r)).toMatchObject({ code: 'session_not_found', category: 'not_found' });
  });
});

describe('an error inside an experiment container keeps its code through the router', () => {
  let t: RoutedHost;
  beforeAll(async () => {
    t = await startRoutedHost({ runtime: 'local' });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('cell_not_found from the node, invalid_path from the host', async () => {
    const created = await t.call('container_create', { experiment_id: 'exp-error-codes' });
    const cid = created.container_id as string;
    try {
      const nb = await t.call('notebook_create', { name: 'inside', container_id: cid });
      const r = await t.client.callTool({
        name: 'cell_update',
        arguments: { session_id: nb.session_id as string, cell_id: 'no-such-cell', source: 'x = 1' },
      });
      expect(r.isError).toBe(true);
      expect(JSON.stringify(r.content)).toContain('no-such-cell');
      expect(metaOf(r)).toMatchObject({ code: 'cell_not_found', category: 'not_found' });
      const cp = await t.client.callTool({
        name: 'container_cp_in',
        arguments: { container_id: cid, dest: '../escape.txt', content: 'x' },
      });
      expect(cp.isError).toBe(true);
      expect(metaOf(cp)?.category).toBe('forbidden');
    } finally {
      await t.call('container_destroy', { container_id: cid });
    }
  }, 180_000);
});

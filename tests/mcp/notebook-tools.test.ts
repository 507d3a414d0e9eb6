// Drives the host MCP server with the SDK's own Client over stdio (`peragus mcp`,
// a real process with real kernels): the notebook and cell tools.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = join(import.meta.dirname, '..', '..');
let home: string;
let client: Client;
const events: { type: string; session_id: string }[] = [];

type Structured = Record<string, unknown>;
async function call(name: string, args: Record<string, unknown>): Promise<Structured> {
  const r = await client.callTool({ name, arguments: args });
  if (r.isError) throw new Error(JSON.stringify(r.content));
  return r.structuredContent as Structured;
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'peragus-mcp-'));
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [join(repo, 'bin/peragus.js'), 'mcp'],
    env: { ...process.env, PERAGUS_HOME: home, PERAGUS_POOL_SIZE: '1' } as Record<string, string>,
    stderr: 'inherit',
  });
  client = new Client({ name: 'test', version: '1' });
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    const data = n.params.data as { type: string; session_id: string };
    if (n.params.logger === 'peragus.events') events.push(data);
  });
  await client.connect(transport);
});

afterAll(async () => {
  await client?.close();
  rmSync(home, { recursive: true, force: true });
});

describe('notebook tools over stdio', () => {
  it('lists the design tool names', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    for (const n of [
      'notebook_create',
      'notebook_list',
      'notebook_delete',
      'notebook_import',
      'notebook_export',
    ]) {
      expect(names).toContain(n);
    }
    for (const n of [
      'cell_add',
      'cell_update',
      'cell_delete',
      'cell_execute',
      'container_create',
      'container_destroy',
    ]) {
      expect(names).toContain(n);
    }
  });

  it('sends no notebook events before the client sets a log level', async () => {
    const quiet = await call('notebook_create', { name: 'quiet', experiment_id: 'exp-quiet' });
    await call('cell_add', { session_id: quiet.session_id, source: 'print(1)', execute: true });
    await client.ping(); // anything sent before the reply to this has arrived by now
    expect(events).toEqual([]);
    await call('notebook_delete', { session_id: quiet.session_id });
    await client.setLoggingLevel('info');
  });

  it('creates a session, runs cells, streams events, exports and re-imports', async () => {
    const created = await call('notebook_create', { name: 'first', experiment_id: 'exp-one' });
    const sid = created.session_id as string;
    expect(created.experiment_id).toBe('exp-one');
    const added = await call('cell_add', { session_id: sid, source: 'x = 6 * 7\nprint("hello", x)\nx' });
    const run = await call('cell_execute', { session_id: sid, cell_id: added.cell_id });
    const first = (run.runs as { status: string; outputs: { text?: string }[] }[])[0]!;
    expect(first.status).toBe('ok');
    expect(first.outputs.map((o) => o.text).join('')).toContain('hello 42');
    expect(first.outputs.map((o) => o.text).join('')).toContain('42');
    expect(events.some((e) => e.type === 'notebook.cell.completed' && e.session_id === sid)).toBe(true);

    const bad = await client.callTool({
      name: 'cell_execute',
      arguments: { session_id: sid, cell_id: 'nope' },
    });
    expect(bad.isError).toBe(true);
    expect(JSON.stringify(bad.content)).toContain('nope');

    const exported = await call('notebook_export', { session_id: sid, format: 'srcmd', inline: true });
    expect(exported.content as string).toContain('x = 6 * 7');
    const imported = await call('notebook_import', {
      format: 'srcmd',
      content: exported.content,
      name: 'again',
    });
    const all = await call('cell_execute', { session_id: imported.session_id, cell_id: 'all' });
    expect(all.failed).toBe(0);
    expect(all.ran).toBe(1);

    const ipynb = await call('notebook_export', { session_id: sid, format: 'ipynb', inline: true });
    expect(JSON.parse(ipynb.content as string).nbformat).toBe(4);
    const list = await call('notebook_list', {});
    expect((list.sessions as unknown[]).length).toBe(2);
  });

  it('refuses a path outside the work dir', async () => {
    const r = await client.callTool({
      name: 'notebook_import',
      arguments: { format: 'srcmd', path: '../../etc/passwd' },
    });
    expect(r.isError).toBe(true);
    expect(JSON.stringify(r.content)).toMatch(/escapes/);
  });
});

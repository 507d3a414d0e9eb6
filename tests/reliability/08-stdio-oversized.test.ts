// Item 8: a 10.5 MiB request to `peragus mcp` over stdio, sent by the
// official MCP client, is refused with a JSON-RPC error naming the limit and
// the way around it; the server keeps serving the same client afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN } from './helpers.ts';

const home = mkdtempSync(join(tmpdir(), 'peragus-rel8-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('stdio MCP and oversized requests', () => {
  it('refuses a 10.5 MiB request with an error and keeps serving', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'mcp'],
      env: { ...(process.env as Record<string, string>), PERAGUS_HOME: home, PERAGUS_POOL_SIZE: '0' },
      stderr: 'pipe',
    });
    let closed = false;
    const client = new Client({ name: 'rel8', version: '1' });
    client.onclose = () => {
      closed = true;
    };
    await client.connect(transport);
    try {
      const before = await client.callTool({ name: 'notebook_list', arguments: {} });
      expect(before.isError).toBeFalsy();

      const big = 'x'.repeat(Math.round(10.5 * 1024 * 1024));
      const err = await client
        .callTool({
          name: 'container_cp_in',
          arguments: { container_id: 'any', dest: 'big.txt', content: big },
        })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(McpError);
      expect((err as McpError).code).toBe(-32600);
      expect((err as McpError).message).toMatch(/10 MiB/);
      expect((err as McpError).message).toMatch(/inbox/);

      // Still serving, on the same connection.
      const after = await client.callTool({ name: 'notebook_create', arguments: { name: 'still-here' } });
      expect(after.isError).toBeFalsy();
      expect((after.structuredContent as { session_id: string }).session_id).toBeTruthy();
      expect(closed).toBe(false);
      expect(transport.pid).not.toBeNull();
    } finally {
      await client.close();
    }
  }, 180_000);
});

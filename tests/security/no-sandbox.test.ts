// Where bubblewrap cannot run, the host says so loudly at start-up and every
// local container_create reports isolation "none" (never a silent downgrade).
// Run for real: `peragus mcp` with a PATH that has no bwrap.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from '../helpers/sd-models.ts';

const home = mkdtempSync(join(tmpdir(), 'peragus-nosandbox-'));
const emptyPath = mkdtempSync(join(tmpdir(), 'peragus-nopath-'));

afterAll(() => {
  rmSync(home, { recursive: true, force: true });
  rmSync(emptyPath, { recursive: true, force: true });
});

describe('a host without bubblewrap', () => {
  it('warns at start-up and container_create says isolation "none"', async () => {
    const env = { ...process.env, PERAGUS_HOME: home, PERAGUS_POOL_SIZE: '0', PATH: emptyPath } as Record<
      string,
      string
    >;
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [join(REPO, 'bin/peragus.js'), 'mcp'],
      env,
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const client = new Client({ name: 'no-sandbox', version: '1' });
    await client.connect(transport);
    try {
      // stderr is another pipe than the MCP answers: wait for it (bounded), do not assume order.
      const warning = /WARNING: the local runtime is NOT sandboxed \(bwrap is not installed/;
      for (let i = 0; i < 100 && !warning.test(stderr); i++) await new Promise((r) => setTimeout(r, 100));
      expect(stderr).toMatch(warning);
      const r = await client.callTool(
        { name: 'container_create', arguments: { experiment_id: 'unsandboxed' } },
        undefined,
        { timeout: 120_000 },
      );
      const created = r.structuredContent as { isolation?: string; container_id?: string } | undefined;
      expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
      expect(created?.isolation).toBe('none');
      await client.callTool({
        name: 'container_destroy',
        arguments: { container_id: created?.container_id },
      });
    } finally {
      await client.close();
    }
  }, 180_000);
});

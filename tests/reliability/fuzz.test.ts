// Property: over stdio, through the official MCP client, at least 2,000
// malformed tool calls derived from the tools' own input schemas each get a
// clean error naming the malformed field; the server never exits or hangs;
// a normal call succeeds afterwards. Malformed calls fail validation, so no
// kernel or container is ever started: the run stays short.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { type JsonSchema, type Malformed, malformedInputs } from './fuzz-arbitraries.ts';
import { BIN } from './helpers.ts';

const home = mkdtempSync(join(tmpdir(), 'peragus-fuzz-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

const RUNS = 2000;

describe('fuzzing tool inputs', () => {
  it(`${RUNS} malformed calls: clean errors naming the field, server stays up`, async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'mcp'],
      env: { ...(process.env as Record<string, string>), PERAGUS_HOME: home, PERAGUS_POOL_SIZE: '0' },
      stderr: 'pipe',
    });
    const client = new Client({ name: 'fuzz', version: '1' });
    let closed = false;
    client.onclose = () => {
      closed = true;
    };
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      const cases = malformedInputs(tools as { name: string; inputSchema: JsonSchema }[]);
      expect(cases.length).toBeGreaterThan(100);
      let count = 0;
      const kinds = new Set<string>();
      const fields = new Set<string>();
      await fc.assert(
        fc.asyncProperty(fc.oneof(...cases), async (m: Malformed) => {
          count++;
          kinds.add(m.kind);
          fields.add(`${m.tool}.${m.path.join('.')}`);
          let text: string;
          try {
            const r = await client.callTool({ name: m.tool, arguments: m.args }, undefined, {
              timeout: 15_000,
            });
            expect(r.isError, `${m.tool} accepted ${m.kind} ${m.path.join('.')}`).toBe(true);
            text = (r.content as { text?: string }[]).map((c) => c.text ?? '').join('\n');
          } catch (err) {
            // A JSON-RPC error is a clean error too, but never a timeout or a closed connection.
            expect(err).toBeInstanceOf(McpError);
            expect((err as McpError).code).not.toBe(-32001);
            text = (err as Error).message;
          }
          const field = m.path.at(-1)!;
          expect(text, `${m.tool} ${m.kind} at ${m.path.join('.')}`).toContain(field);
          expect(text).not.toMatch(/\n\s+at .*\.ts:\d+/); // no stack traces
        }),
        { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? 20261201), endOnFailure: true },
      );
      expect(count).toBeGreaterThanOrEqual(RUNS);
      expect(kinds.size).toBeGreaterThanOrEqual(8);
      // Spread over the tools: most fields of most tools were hit.
      expect(fields.size).toBeGreaterThan(100);
      expect(new Set([...fields].map((f) => f.split('.')[0])).size).toBeGreaterThan(20);
      if (process.env.FUZZ_REPORT)
        process.stderr.write(`fuzz: ${count} calls, ${fields.size} fields, kinds ${[...kinds].join(', ')}\n`);

      // Still the same server, and it still works.
      expect(closed).toBe(false);
      const ok = await client.callTool({ name: 'notebook_create', arguments: { name: 'after-fuzz' } });
      expect(ok.isError).toBeFalsy();
      expect((ok.structuredContent as { session_id: string }).session_id).toBeTruthy();
    } finally {
      await client.close();
    }
  }, 240_000);
});

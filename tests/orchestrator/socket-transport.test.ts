// The node's MCP endpoint: a connection gets its transport (and its McpServer) with its first
// bytes, so the host's endpoint probe (connect, close) costs the node nothing, and no byte a
// client sent before the server was made is lost.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, describe, expect, it } from 'vitest';
import {
  listenSocket,
  type SocketTransport,
} from '../../notebook-server/src/orchestrator/socket-transport.ts';
import { probeSocket } from '../../notebook-server/src/runtime/paths.ts';

const dir = mkdtempSync(join(tmpdir(), 'peragus-sock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ping = (id: number): JSONRPCMessage => ({ jsonrpc: '2.0', id, method: 'ping' });

describe('listenSocket', () => {
  it('makes no transport for a probe, and loses no byte of a real client', async () => {
    const path = join(dir, 'mcp.sock');
    const transports: SocketTransport[] = [];
    const got: JSONRPCMessage[] = [];
    const server = await listenSocket(path, async (t) => {
      transports.push(t);
      t.onmessage = (m) => got.push(m);
      await t.start();
    });
    try {
      for (let i = 0; i < 3; i++) expect(await probeSocket(path)).toBe(true);
      await new Promise((r) => setTimeout(r, 100));
      expect(transports).toHaveLength(0);

      // Two messages in the first write (one arrives split over the first chunk), one later.
      const client = connect(path);
      await new Promise((r) => client.once('connect', r));
      const first = `${JSON.stringify(ping(1))}\n${JSON.stringify(ping(2))}`;
      client.write(first);
      await new Promise((r) => setTimeout(r, 50));
      client.write(`\n${JSON.stringify(ping(3))}\n`);
      const deadline = performance.now() + 5_000;
      while (got.length < 3 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      client.destroy();
      expect(transports).toHaveLength(1);
      expect(got.map((m) => (m as { id: number }).id)).toEqual([1, 2, 3]);
    } finally {
      server.close();
    }
  });
});

// The hub's own cost, without a cluster: MCP over a hub channel (WebSocket,
// sequenced frames with acks and a replay buffer) against MCP over the Unix
// socket the local and Docker runtimes use, in the same process, interleaved.
// hub_events_per_s: session-event-like logging notifications one way;
// hub_calls_per_s: sequential tool-call round trips. These feed the hub's
// message budget in docs/SCALING.md.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import {
  connectSocketTransport,
  listenSocket,
} from '../notebook-server/src/orchestrator/socket-transport.ts';
import { NodeHubClient } from '../notebook-server/src/runtime/hub/node-client.ts';
import { HubServer } from '../notebook-server/src/runtime/hub/server.ts';
import { type BenchFigure, type BenchSuite, median } from './lib.ts';

const EVENTS = 20_000;
const CALLS = 2_000;
const ROUNDS = 3;

async function serve(transport: Transport): Promise<void> {
  const server = new McpServer({ name: 'bench-node', version: '1' }, { capabilities: { logging: {} } });
  server.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({
    content: [{ type: 'text', text }],
  }));
  server.registerTool('burst', { inputSchema: { n: z.number().int() } }, async ({ n }) => {
    for (let i = 0; i < n; i++) {
      await server.server.sendLoggingMessage({
        level: 'info',
        logger: 'bench',
        data: { i, pad: 'x'.repeat(200) },
      });
    }
    return { content: [{ type: 'text', text: String(n) }] };
  });
  await server.connect(transport);
}

async function measure(open: () => Promise<Transport>): Promise<{ events: number; calls: number }> {
  const client = new Client({ name: 'bench-host', version: '1' });
  let seen = 0;
  client.setNotificationHandler(LoggingMessageNotificationSchema, () => {
    seen++;
  });
  await client.connect(await open());
  let t0 = performance.now();
  await client.callTool({ name: 'burst', arguments: { n: EVENTS } }, undefined, { timeout: 600_000 });
  while (seen < EVENTS) await new Promise((r) => setImmediate(r));
  const events = EVENTS / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  for (let i = 0; i < CALLS; i++) await client.callTool({ name: 'echo', arguments: { text: 'x' } });
  const calls = CALLS / ((performance.now() - t0) / 1000);
  await client.close();
  return { events, calls };
}

export const suite: BenchSuite = async () => {
  const dir = mkdtempSync(join(tmpdir(), 'peragus-bench-hub-'));
  const hub = new HubServer({ host: '127.0.0.1', ports: 0 });
  await hub.listen();
  const token = hub.admit('bench');
  const node = new NodeHubClient({
    url: hub.url,
    experimentId: 'bench',
    token,
    workDir: dir,
    serveMcp: serve,
  });
  node.start();
  const sock = join(dir, 'node.sock');
  const server = await listenSocket(sock, serve);
  try {
    const link = await hub.waitConnected('bench', 10_000);
    const overHub: { events: number; calls: number }[] = [];
    const overSocket: { events: number; calls: number }[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      overHub.push(await measure(async () => link.openMcp()));
      overSocket.push(await measure(() => connectSocketTransport(sock)));
    }
    const fig = (name: string, key: 'events' | 'calls'): BenchFigure => {
      const ours = median(overHub.map((m) => m[key]));
      const peer = median(overSocket.map((m) => m[key]));
      return {
        name,
        value: Math.round(ours),
        unit: '1/s',
        peer: 'MCP over a Unix socket',
        peer_value: Math.round(peer),
        ratio: Number((ours / peer).toFixed(3)),
        goal: '>= 0.5',
      };
    };
    return [fig('hub_events_per_s', 'events'), fig('hub_calls_per_s', 'calls')];
  } finally {
    node.stop();
    server.close();
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  }
};

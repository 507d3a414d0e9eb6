// Wires the workbench to a host: its tool calls go through an in-process MCP
// client of the host's own MCP server, so a browser experiment takes exactly
// the path an agent's does (cells, events, registration).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { Workbench } from '../workbench/workbench.ts';
import type { Host } from './host.ts';

export async function createWorkbench(
  host: Host,
  log?: (m: string) => void,
): Promise<{ workbench: Workbench; close(): Promise<void> }> {
  const server = host.makeMcpServer();
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'peragus-workbench', version: '1' });
  await client.connect(clientSide);
  const workbench = new Workbench({
    home: host.home,
    catalog: host.catalog,
    plans: host.plans,
    events: host.notebook.events,
    ...(log ? { log } : {}),
    callTool: async (name, args) => {
      const r = await client.callTool({ name, arguments: args }, undefined, {
        timeout: 6 * 3600_000,
        resetTimeoutOnProgress: true,
      });
      if (r.isError) {
        const text = (r.content as { type: string; text?: string }[]).map((c) => c.text ?? '').join(' ');
        throw new Error(`${name}: ${text}`);
      }
      return (r.structuredContent ?? {}) as Record<string, unknown>;
    },
  });
  return {
    workbench,
    async close() {
      workbench.close();
      await client.close().catch(() => undefined);
      await server.close().catch(() => undefined);
    },
  };
}

// The benches' MCP client: connected in memory to a host's own MCP server, as
// an agent's would be, and one way to call a tool and get its structured result.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Host } from '../notebook-server/src/app/host.ts';

export type Json = Record<string, unknown>;

export async function mcpClient(host: Host, name = 'bench'): Promise<Client> {
  const [a, b] = InMemoryTransport.createLinkedPair();
  await host.makeMcpServer().connect(a);
  const client = new Client({ name, version: '1' });
  await client.connect(b);
  return client;
}

/** The tool's structured result; its error text as an exception. */
export async function callTool(
  client: Client,
  name: string,
  args: Json,
  options: RequestOptions,
): Promise<Json> {
  const r = await client.callTool({ name, arguments: args }, undefined, options);
  if (r.isError) throw new Error(`${name}: ${JSON.stringify(r.content)}`);
  return r.structuredContent as Json;
}

// An MCP client on the running host's /mcp, for CLI commands that work through
// the host (`peragus run`, `peragus catalog query`) instead of opening the
// catalog themselves. The person at the shell is the user: a plan that needs
// approval is approved by running the command.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type CallToolResult, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { SERVER_VERSION } from '../mcp/server.ts';
import type { HostAddress } from './address.ts';

export interface HostClient {
  /** Calls a tool; its structured result, or throws with the tool's error text. */
  call(
    name: string,
    args: Record<string, unknown>,
    onProgress?: (p: { progress: number; total?: number; message?: string }) => void,
  ): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function connectHost(address: HostAddress): Promise<HostClient> {
  const transport = new StreamableHTTPClientTransport(new URL('mcp', address.url), {
    requestInit: { headers: { authorization: `Bearer ${address.token}` } },
  });
  const client = new Client(
    { name: 'peragus-cli', version: SERVER_VERSION },
    { capabilities: { elicitation: { form: {} } } },
  );
  client.setRequestHandler(ElicitRequestSchema, async () => ({
    action: 'accept',
    content: { approve: true },
  }));
  await client.connect(transport);
  return {
    async call(name, args, onProgress) {
      const result = (await client.callTool({ name, arguments: args }, undefined, {
        timeout: 24 * 3600 * 1000,
        resetTimeoutOnProgress: true,
        ...(onProgress ? { onprogress: onProgress } : {}),
      })) as CallToolResult;
      if (result.isError) {
        throw new Error(result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n'));
      }
      return (result.structuredContent ?? {}) as Record<string, unknown>;
    },
    async close() {
      await transport.terminateSession().catch(() => undefined);
      await client.close();
    },
  };
}

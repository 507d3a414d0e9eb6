// `peragus mcp`: the host MCP server on stdio. Diagnostics go to stderr only:
// stdout carries the protocol.
import { createHost } from '../app/host.ts';
import { serveStdio } from '../mcp/stdio.ts';

export async function mcpCommand(_argv: string[]): Promise<number | undefined> {
  const host = await createHost();
  try {
    await serveStdio(host.makeMcpServer());
  } finally {
    await host.close();
  }
  return 0;
}

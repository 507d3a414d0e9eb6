// The host MCP server on stdio (for desktop MCP clients). Framing goes through
// the capped line reader: a message over 10 MiB, or a line that is not
// JSON-RPC, gets a JSON-RPC error reply and the server keeps serving.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { LineFramedTransport } from '../jsonrpc/line-transport.ts';
import { createLogger, type Logger } from '../log/index.ts';

export const LARGE_CONTENT_HINT =
  'put large files in PERAGUS_HOME/inbox and copy them with container_cp_in {src}';

export async function serveStdio(
  server: McpServer,
  maxLineBytes?: number,
  log: Logger = createLogger(),
): Promise<void> {
  const transport = new LineFramedTransport(process.stdin, process.stdout, {
    replyToRejected: true,
    largeContentHint: LARGE_CONTENT_HINT,
    ...(maxLineBytes !== undefined ? { maxLineBytes } : {}),
    onRejected: (r) => log.warn(`peragus mcp: refused a message (${r.code}): ${r.message}`),
  });
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
  });
  await server.connect(transport);
  await closed;
}

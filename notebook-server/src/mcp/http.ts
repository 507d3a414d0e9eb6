// MCP Streamable HTTP at /mcp: stateful sessions (one McpServer per MCP
// session, with the GET stream for notifications and elicitation), token auth
// and DNS-rebinding protection (Host and Origin must be ours).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { requestToken, tokenMatches } from '../auth/token.ts';

export interface McpHttpOptions {
  token: string;
  /** host:port values the server answers to, e.g. ["127.0.0.1:4300", "localhost:4300"]. */
  allowedHosts: string[];
  /** Origins allowed for browser-based MCP clients; requests without Origin (SDK clients) pass. */
  allowedOrigins: string[];
}

function deny(res: ServerResponse, status: number, message: string, code = -32000): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

const MAX_BODY = 16 * 1024 * 1024;

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error(`larger than ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

export interface McpHttpHandler {
  handle(req: IncomingMessage & { body?: unknown }, res: ServerResponse): Promise<void>;
  close(): Promise<void>;
  readonly sessionCount: number;
}

export function createMcpHttpHandler(makeServer: () => McpServer, options: McpHttpOptions): McpHttpHandler {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const servers = new Map<string, McpServer>();

  return {
    get sessionCount() {
      return transports.size;
    },
    async handle(req, res) {
      if (!tokenMatches(requestToken(req), options.token)) {
        deny(
          res,
          401,
          'missing or wrong token: send "Authorization: Bearer <token>" (printed by peragus serve)',
        );
        return;
      }
      const origin = req.headers.origin;
      if (origin !== undefined && !options.allowedOrigins.includes(origin)) {
        deny(res, 403, `origin ${origin} is not allowed`);
        return;
      }
      // The host's express app leaves /mcp bodies unparsed: read JSON here.
      if (req.method === 'POST' && req.body === undefined) {
        try {
          req.body = await readJsonBody(req);
        } catch (err) {
          // -32700: the JSON-RPC parse error, as on stdio.
          deny(res, 400, `invalid JSON body: ${(err as Error).message}`, -32700);
          return;
        }
      }
      const sid = req.headers['mcp-session-id'];
      const sessionId = Array.isArray(sid) ? sid[0] : sid;
      let transport = sessionId ? transports.get(sessionId) : undefined;
      if (!transport) {
        if (sessionId) {
          deny(res, 404, `unknown MCP session ${sessionId}: initialize a new session`);
          return;
        }
        if (req.method !== 'POST' || !isInitializeRequest(req.body)) {
          deny(res, 400, 'no MCP session: the first request must be an initialize POST');
          return;
        }
        const server = makeServer();
        const created = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          enableDnsRebindingProtection: true,
          allowedHosts: options.allowedHosts,
          allowedOrigins: options.allowedOrigins,
          onsessioninitialized: (id) => {
            transports.set(id, created);
            servers.set(id, server);
          },
        });
        created.onclose = () => {
          const id = created.sessionId;
          if (id) {
            transports.delete(id);
            servers.delete(id);
          }
        };
        await server.connect(created);
        transport = created;
      }
      await transport.handleRequest(req, res, req.body);
    },
    async close() {
      await Promise.all([...servers.values()].map((s) => s.close().catch(() => undefined)));
      transports.clear();
      servers.clear();
    },
  };
}

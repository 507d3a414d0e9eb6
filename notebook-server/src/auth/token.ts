// The host's token: how a request carries it (header, ?token=, the UI cookie)
// and the constant-time comparison. Shared by the HTTP face (http/auth.ts) and
// the MCP Streamable HTTP endpoint (mcp/http.ts).
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const TOKEN_COOKIE = 'peragus_token';

/** The token a request carries: Authorization header (token/Bearer), ?token=, or the UI cookie. */
export function requestToken(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (auth) {
    const m = /^(?:token|bearer)\s+(.+)$/i.exec(auth.trim());
    if (m) return m[1];
  }
  const url = new URL(req.url ?? '/', 'http://x');
  const q = url.searchParams.get('token');
  if (q) return q;
  const cookie = req.headers.cookie;
  if (cookie) {
    for (const part of cookie.split(';')) {
      const [k, ...v] = part.trim().split('=');
      if (k === TOKEN_COOKIE) return decodeURIComponent(v.join('='));
    }
  }
  return undefined;
}

export function tokenMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

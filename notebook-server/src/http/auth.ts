// Token and origin checks shared by HTTP routes and WebSocket upgrades.
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { requestToken, TOKEN_COOKIE, tokenMatches } from '../auth/token.ts';

/**
 * A browser sends Origin on cross-origin requests (and on WS upgrades). Same
 * origin means its host:port equals the Host the request was sent to; tools
 * without an Origin header (curl, Node clients) are not browsers and pass.
 */
export function originAllowed(req: IncomingMessage, extra: readonly string[] = []): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (origin === 'null') return false;
  if (extra.includes(origin)) return true;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false;
  }
  return host === req.headers.host;
}

export interface AuthOptions {
  token: string;
  allowedOrigins?: string[];
  /** Paths served without a token (exact match, GET only). */
  openPaths?: string[];
}

export function authMiddleware(options: AuthOptions) {
  const open = new Set(options.openPaths ?? []);
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!originAllowed(req, options.allowedOrigins)) {
      res.status(403).json({ message: 'cross-origin request refused', reason: 'origin' });
      return;
    }
    if ((req.method === 'GET' || req.method === 'HEAD') && open.has(req.path)) {
      next();
      return;
    }
    const given = requestToken(req);
    if (!tokenMatches(given, options.token)) {
      res.status(401).json({
        message: 'missing or wrong token: use "Authorization: token <T>" or ?token=<T>',
        reason: 'auth',
      });
      return;
    }
    // A token given in the URL (the link the server printed) becomes a cookie, so the
    // page's scripts, styles and images load without carrying it in every URL.
    if (new URL(req.url, 'http://x').searchParams.has('token') && !req.path.startsWith('/api/')) {
      res.cookie(TOKEN_COOKIE, options.token, { httpOnly: true, sameSite: 'strict', path: '/' });
    }
    next();
  };
}

/**
 * Host names a server bound to `bindHost:port` answers to: loopback names and
 * the bound address. A request whose Host header is another name reached us
 * through a name that is not ours (DNS rebinding) and is refused on every
 * route. A wildcard bind (0.0.0.0, ::) is reached by whatever names the
 * machine has, so it checks nothing beyond the token.
 */
export function allowedHostsFor(
  bindHost: string,
  port: number,
  extra: readonly string[] = [],
): Set<string> | null {
  if (bindHost === '0.0.0.0' || bindHost === '::' || bindHost === '') return null;
  const shown = bindHost.includes(':') ? `[${bindHost}]` : bindHost;
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `${shown}:${port}`, ...extra]);
}

export function hostAllowed(req: IncomingMessage, allowed: ReadonlySet<string> | null): boolean {
  if (!allowed) return true;
  const host = req.headers.host;
  return host !== undefined && allowed.has(host.toLowerCase());
}

export function hostRefusal(req: IncomingMessage, allowed: ReadonlySet<string>): string {
  return `Host "${req.headers.host ?? ''}" is not this server's name: use one of ${[...allowed].join(', ')}`;
}

// The host's HTTP face: express app + ws upgrades. Routes: GET /api (open),
// the Jupyter subset under /api, /ui-api for the browser UI, /events (WS),
// /api/kernels/{id}/channels (WS), /mcp (mounted by the MCP face), and the UI.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { WebSocketServer } from 'ws';
import { requestToken, tokenMatches } from '../auth/token.ts';
import { createLogger, logFn } from '../log/index.ts';
import { KernelService } from '../notebook/kernel-service.ts';
import { allowedHostsFor, authMiddleware, hostAllowed, hostRefusal, originAllowed } from './auth.ts';
import { containersRouter } from './containers-api.ts';
import type { HostContext } from './context.ts';
import { HttpError, jupyterErrorHandler, uiErrorHandler } from './errors.ts';
import { serveEventStream } from './events-ws.ts';
import { contentsRouter } from './jupyter/contents.ts';
import { V1_PROTOCOL } from './jupyter/framing.ts';
import { JupyterKernels } from './jupyter/kernels.ts';
import { JUPYTER_SERVER_VERSION, jupyterRouter } from './jupyter/rest.ts';
import { ensureUiBuilt, uiRouter } from './static.ts';
import { uiApiRouter } from './ui-api.ts';
import { workbenchRouter } from './workbench-api.ts';

export type McpHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface HttpApp {
  app: Express;
  server: Server;
  kernels: JupyterKernels;
  /** Mounts the MCP Streamable HTTP handler at /mcp (token-checked; the body is left unparsed). */
  attachMcp(handler: McpHandler): void;
  /** Host header values accepted on every route and upgrade (null: any). Set once the port is known. */
  setAllowedHosts(hosts: Set<string> | null): void;
  close(): Promise<void>;
}

const CHANNELS_RE = /^\/api\/kernels\/([^/]+)\/channels\/?$/;

const defaultLog = logFn(createLogger({ prefix: '[peragus http] ' }));

export function createHttpApp(ctx: HostContext): HttpApp {
  const log = ctx.log ?? defaultLog;
  const fullCtx: HostContext = { ...ctx, log };
  // The kernels' lifecycles are the host's KernelService; a bare HTTP app (tests) makes its own.
  const ownService = ctx.kernels === undefined;
  const service =
    ctx.kernels ??
    new KernelService({
      sessions: ctx.sessions,
      events: ctx.events,
      home: ctx.home,
      ...(ctx.startKernel ? { startKernel: ctx.startKernel } : {}),
    });
  const kernels = new JupyterKernels(service, log);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  let allowedHosts: Set<string> | null = null;
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (hostAllowed(req, allowedHosts)) return next();
    res.status(403).json({ message: hostRefusal(req, allowedHosts as Set<string>), reason: 'host' });
  });
  app.use(
    authMiddleware({ token: ctx.token, allowedOrigins: ctx.allowedOrigins, openPaths: ['/api', '/api/'] }),
  );

  let mcp: McpHandler | undefined;
  app.all(['/mcp', '/mcp/*rest'], async (req, res) => {
    if (!mcp) {
      res.status(503).json({ error: { code: 'no_mcp', message: 'MCP is not mounted on this server' } });
      return;
    }
    await mcp(req, res);
  });

  const started = new Date().toISOString();
  app.get(['/api', '/api/'], (_req, res) => {
    res.json({ version: JUPYTER_SERVER_VERSION });
  });
  app.get('/api/status', (_req, res) => {
    const list = kernels.list();
    res.json({
      started,
      last_activity: new Date().toISOString(),
      kernels: list.length,
      connections: list.reduce((n, k) => n + k.connections, 0),
    });
  });
  app.get('/api/me', (_req, res) => {
    const identity = { username: 'peragus', name: 'Peragus', display_name: 'Peragus', initials: 'P' };
    res.json({ identity: { ...identity, avatar_url: null, color: null }, permissions: {} });
  });

  const json = express.json({ limit: '100mb' });
  // Model uploads are capped by the workbench (20 MB); a JSON-escaped model is a little larger.
  app.use('/api', json);
  app.use('/ui-api', json);
  app.use(jupyterRouter(fullCtx, kernels));
  app.use(contentsRouter(fullCtx));
  app.use(uiApiRouter(fullCtx));
  app.use(workbenchRouter(fullCtx));
  app.use(containersRouter(fullCtx));
  app.use(['/api', '/ui-api'], (req: Request) => {
    throw new HttpError(404, `not found: ${req.method} ${req.originalUrl.split('?')[0]}`, 'NotFound');
  });
  // A failure answered with 500 is logged at error level when the host passed its logger.
  const errorLog = ctx.logger ? logFn(ctx.logger, 'error') : log;
  const apiErrors = jupyterErrorHandler(errorLog);
  const uiErrors = uiErrorHandler(errorLog);
  app.use((err: unknown, req: Request, res: Response, next: NextFunction) =>
    req.originalUrl.startsWith('/api') ? apiErrors(err, req, res, next) : uiErrors(err, req, res, next),
  );
  app.use(uiRouter());

  const server = createServer(app);
  const offered = ctx.kernelWsProtocols ?? [V1_PROTOCOL];
  const channelsWss = new WebSocketServer({
    noServer: true,
    maxPayload: 256 * 1024 * 1024,
    handleProtocols: (protocols) =>
      protocols.has(V1_PROTOCOL) && offered.includes(V1_PROTOCOL) ? V1_PROTOCOL : false,
  });
  const eventsWss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const refuse = (status: number, text: string, message: string) => {
      const body = JSON.stringify({ message, reason: text });
      socket.end(
        `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    };
    socket.on('error', () => {});
    if (!hostAllowed(req, allowedHosts))
      return refuse(403, 'Forbidden', hostRefusal(req, allowedHosts as Set<string>));
    if (!originAllowed(req, ctx.allowedOrigins))
      return refuse(403, 'Forbidden', 'cross-origin request refused');
    if (!tokenMatches(requestToken(req), ctx.token))
      return refuse(401, 'Unauthorized', 'missing or wrong token');
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/events') {
      eventsWss.handleUpgrade(req, socket, head, (ws) => serveEventStream(ws, req, ctx.events, { log }));
      return;
    }
    const m = CHANNELS_RE.exec(url.pathname);
    if (m) {
      const id = decodeURIComponent(m[1] as string);
      if (!kernels.has(id)) return refuse(404, 'Not Found', `Kernel does not exist: ${id}`);
      const clientSession =
        url.searchParams.get('session_id') || `anon-${Math.random().toString(36).slice(2)}`;
      channelsWss.handleUpgrade(req, socket, head, (ws) => {
        kernels.bridge(id).connect(ws, clientSession, ws.protocol === V1_PROTOCOL ? 'v1' : 'legacy');
      });
      return;
    }
    refuse(404, 'Not Found', `no WebSocket endpoint at ${url.pathname}`);
  });

  return {
    app,
    server,
    kernels,
    attachMcp(handler) {
      mcp = handler;
    },
    setAllowedHosts(hosts) {
      allowedHosts = hosts;
    },
    async close() {
      for (const ws of [...channelsWss.clients, ...eventsWss.clients]) ws.terminate();
      channelsWss.close();
      eventsWss.close();
      kernels.close();
      if (ownService) await service.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

export interface StartHostServerOptions extends HostContext {
  /** Default 4300; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Build the UI first when it is missing or stale (default true). */
  buildUi?: boolean;
}

export interface HostServer extends HttpApp {
  /** http://host:port/ */
  url: string;
  port: number;
  /** The URL with ?token= to open in a browser. */
  browserUrl: string;
}

export async function startHostServer(options: StartHostServerOptions): Promise<HostServer> {
  const { port = 4300, host = '127.0.0.1', buildUi = true, ...ctx } = options;
  const log = ctx.log ?? defaultLog;
  const http = createHttpApp(ctx);
  // Bind first: a port in use fails the start at once, before the UI build.
  await new Promise<void>((resolve, reject) => {
    http.server.once('error', (err: NodeJS.ErrnoException) => {
      void http.close();
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(
              `port ${port} on ${host} is already in use (another peragus serve?): stop it, or pick another port with --port N (0 picks a free one)`,
            )
          : err,
      );
    });
    http.server.listen(port, host, () => {
      http.server.removeAllListeners('error');
      resolve();
    });
  });
  if (buildUi) {
    try {
      await ensureUiBuilt(log);
    } catch (err) {
      // The APIs still work without the UI; say why the page is missing.
      log(`could not build the browser UI: ${(err as Error).message}`);
    }
  }
  const bound = (http.server.address() as AddressInfo).port;
  http.setAllowedHosts(allowedHostsFor(host, bound, ctx.allowedHosts));
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  const url = `http://${shownHost}:${bound}/`;
  return { ...http, url, port: bound, browserUrl: `${url}?token=${encodeURIComponent(ctx.token)}` };
}

// The hub on the host: one WebSocket endpoint that experiment nodes on other
// machines connect OUT to. A node is admitted only with its experiment's
// token (hashed, constant-time compare, tokens.ts); its connection is bound
// to that experiment's Channel, which outlives the socket so a dropped
// connection resumes where it stopped. What travels on a channel (MCP
// streams, requests, files) is link.ts's business.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import { ws } from '../packages.ts';
import { Channel } from './channel.ts';
import { HubLink } from './link.ts';
import { HubTokens } from './tokens.ts';
import { EXPERIMENT_HEADER, type Frame, HUB_PATH, MAX_FRAME_BYTES, parseFrame } from './wire.ts';

export interface HubServerOptions {
  /** Address the nodes reach the host at (the lab: 10.231.77.1). */
  host: string;
  /** A port, or a range `lo-hi` the firewall lets experiments reach; the first free one is taken. */
  ports?: string | number;
  /** Persisted token hashes (a restarted host keeps its experiments); default in memory. */
  tokenFile?: string;
  /** How long a connection may take to say hello. */
  helloTimeoutMs?: number;
  /** PEM certificate chain and key: the hub speaks wss:// (nodes pin the CA, PERAGUS_HUB_CA). */
  tls?: { cert: string; key: string };
}

/** Counters a test or the bench reads: what the hub admitted and refused. */
export interface HubCounters {
  admitted: number;
  refused: number;
  resumed: number;
}

export function parsePorts(ports: string | number | undefined): number[] {
  if (ports === undefined) return [0];
  if (typeof ports === 'number') return [ports];
  const m = /^\s*(\d+)\s*(?:-\s*(\d+))?\s*$/.exec(ports);
  const lo = Number(m?.[1]);
  const hi = Number(m?.[2] ?? m?.[1]);
  if (!m || !(lo >= 0 && hi <= 65_535 && lo <= hi)) {
    throw new Error(`hub ports "${ports}" is not a port or a range like 17700-17763`);
  }
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}

export class HubServer {
  readonly tokens: HubTokens;
  readonly counters: HubCounters = { admitted: 0, refused: 0, resumed: 0 };
  readonly #links = new Map<string, HubLink>();
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #http: Server;
  readonly #wss: WebSocketServer;
  #url: string | undefined;

  readonly #options: HubServerOptions;
  constructor(options: HubServerOptions) {
    this.#options = options;
    this.tokens = new HubTokens(options.tokenFile);
    this.#wss = new (ws().WebSocketServer)({ noServer: true, maxPayload: MAX_FRAME_BYTES });
    const answer = (_req: IncomingMessage, res: import('node:http').ServerResponse) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('the Peragus hub speaks WebSocket only\n');
    };
    this.#http = options.tls
      ? createTlsServer({ ...options.tls, minVersion: 'TLSv1.2' }, answer)
      : createServer(answer);
    this.#http.on('upgrade', (req, socket, head) => this.#upgrade(req, socket, head));
  }

  /** The certificate the nodes pin (wss://), or undefined for ws://. */
  get ca(): string | undefined {
    return this.#options.tls?.cert;
  }

  /** ws://host:port/hub (wss:// with TLS), once listening. */
  get url(): string {
    if (!this.#url) throw new Error('the hub is not listening yet');
    return this.#url;
  }

  async listen(): Promise<string> {
    if (this.#url) return this.#url;
    let last: Error | undefined;
    for (const port of parsePorts(this.#options.ports)) {
      try {
        await new Promise<void>((resolve, reject) => {
          const onError = (err: Error) => reject(err);
          this.#http.once('error', onError);
          this.#http.listen(port, this.#options.host, () => {
            this.#http.off('error', onError);
            resolve();
          });
        });
        const addr = this.#http.address() as AddressInfo;
        const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
        this.#url = `${this.#options.tls ? 'wss' : 'ws'}://${host}:${addr.port}${HUB_PATH}`;
        return this.#url;
      } catch (err) {
        last = err as Error;
      }
    }
    throw new Error(
      `the hub cannot listen on ${this.#options.host} port(s) ${this.#options.ports ?? 0}: ${last?.message} (is the address on this machine, is a port of the range free?)`,
    );
  }

  /** Mints the experiment's token and prepares its link (the node connects later). */
  admit(experimentId: string): string {
    return this.tokens.mint(experimentId);
  }

  /** Revokes the token, drops the connection and fails whatever is pending on the link. */
  revoke(experimentId: string): void {
    this.tokens.revoke(experimentId);
    const link = this.#links.get(experimentId);
    this.#links.delete(experimentId);
    link?.shutdown(`experiment ${experimentId} was destroyed (its hub token is revoked)`);
  }

  /**
   * Gives up on an experiment's node (lost with its machine): whatever waits on
   * its link fails now, so the caller can retry it elsewhere, and its token is
   * revoked (a node that comes back is refused; a new create mints another).
   */
  drop(experimentId: string, reason: string): boolean {
    this.tokens.revoke(experimentId);
    const link = this.#links.get(experimentId);
    if (!link) return false;
    this.#links.delete(experimentId);
    link.shutdown(reason);
    return true;
  }

  /** Experiments with a link (their node connected at least once since create or the host's start). */
  linked(): string[] {
    return [...this.#links.keys()];
  }

  /** The experiment's link, once its node has connected at least once. */
  link(experimentId: string): HubLink | undefined {
    return this.#links.get(experimentId);
  }

  connected(experimentId: string): boolean {
    return this.#links.get(experimentId)?.channel.connected ?? false;
  }

  /** Resolves when the node is connected; rejects after timeoutMs (or when `signal` aborts). */
  waitConnected(experimentId: string, timeoutMs: number, signal?: AbortSignal): Promise<HubLink> {
    const ready = () => (this.connected(experimentId) ? this.#links.get(experimentId) : undefined);
    const now = ready();
    if (now) return Promise.resolve(now);
    return new Promise<HubLink>((resolve, reject) => {
      let waiters = this.#waiters.get(experimentId);
      if (!waiters) {
        waiters = new Set();
        this.#waiters.set(experimentId, waiters);
      }
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        waiters.delete(check);
      };
      const check = () => {
        const link = ready();
        if (link) {
          done();
          resolve(link);
        }
      };
      const onAbort = () => {
        done();
        reject(signal?.reason ?? new Error('aborted'));
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `the node of ${experimentId} did not connect to the hub (${this.#url}) within ${Math.round(timeoutMs / 1000)} s`,
          ),
        );
      }, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      waiters.add(check);
    });
  }

  async close(): Promise<void> {
    for (const [id, link] of this.#links) link.shutdown(`the hub is closing (${id})`);
    this.#links.clear();
    for (const ws of this.#wss.clients) ws.terminate();
    await new Promise<void>((r) => this.#wss.close(() => r()));
    await new Promise<void>((r) => this.#http.close(() => r()));
    this.#http.closeAllConnections();
  }

  #refuse(socket: Duplex, status: number, message: string): void {
    this.counters.refused++;
    socket.end(
      `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Bad Request'}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${message}\n`,
    );
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '').split('?')[0];
    if (path !== HUB_PATH) {
      this.#refuse(socket, 400, `the hub is at ${HUB_PATH}`);
      return;
    }
    const experimentId = req.headers[EXPERIMENT_HEADER];
    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice('Bearer '.length) : '';
    if (typeof experimentId !== 'string' || !this.tokens.verify(experimentId, token)) {
      // One answer for an unknown experiment, a wrong token and a revoked one.
      this.#refuse(socket, 401, 'hub token refused');
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#hello(experimentId, ws));
  }

  #hello(experimentId: string, ws: WebSocket): void {
    const timer = setTimeout(() => ws.close(4408, 'no hello'), this.#options.helloTimeoutMs ?? 10_000);
    ws.once('message', (data) => {
      clearTimeout(timer);
      let frame: Frame;
      try {
        frame = parseFrame(data.toString());
      } catch (err) {
        ws.close(4400, (err as Error).message.slice(0, 120));
        return;
      }
      if (frame.k !== 'hello' || !this.tokens.has(experimentId)) {
        ws.close(4400, 'expected hello');
        return;
      }
      this.counters.admitted++;
      let link = this.#links.get(experimentId);
      if (link && frame.epoch === link.channel.epoch) {
        this.counters.resumed++;
      } else {
        // A first connection, or a node that started over: a fresh channel.
        link?.shutdown(`the node of ${experimentId} restarted`);
        link = new HubLink(experimentId, new Channel());
        this.#links.set(experimentId, link);
      }
      ws.send(
        JSON.stringify({
          k: 'welcome',
          epoch: link.channel.epoch,
          received: link.channel.received,
        } satisfies Frame),
      );
      link.channel.attach(ws, frame.epoch === link.channel.epoch ? frame.received : 0);
      for (const wake of [...(this.#waiters.get(experimentId) ?? [])]) wake();
    });
    ws.on('error', () => undefined);
  }
}

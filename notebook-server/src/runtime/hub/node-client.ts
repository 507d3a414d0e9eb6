// The node's end of the hub: connects OUT to the host's hub with its
// experiment's token, keeps reconnecting (with backoff) when the connection
// drops, resumes the channel where it stopped, and serves what arrives: MCP
// streams (one McpServer each), commands, stats and files (node-ops.ts).
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import WebSocket from 'ws';
import { ContainerRuntimeError } from '../types.ts';
import { Channel } from './channel.ts';
import { routeStreamFrame, StreamTransport } from './mcp-stream.ts';
import { cpOutOp, execOp, statsOp, Upload } from './node-ops.ts';
import { type Body, EXPERIMENT_HEADER, type Frame, MAX_FRAME_BYTES, parseFrame } from './wire.ts';

export interface NodeHubOptions {
  url: string;
  experimentId: string;
  token: string;
  workDir: string;
  /** Connects a fresh MCP server to the transport of a stream the host opened. */
  serveMcp: (transport: Transport) => Promise<void>;
  /** PEM of the CA that signed the hub's certificate (wss://). */
  ca?: string;
  log?: (line: string) => void;
}

export class NodeHubClient {
  #channel = new Channel();
  /** The host's epoch of our channel; a different one in a welcome means the host started over. */
  #hostEpoch: string | null = null;
  readonly #streams = new Map<number, StreamTransport>();
  readonly #uploads = new Map<number, Upload>();
  #ws: WebSocket | undefined;
  #stopped = false;
  #backoff = 250;
  #connectedOnce: (() => void) | undefined;
  /** Resolves once the first connection is up. */
  readonly ready: Promise<void>;

  readonly #options: NodeHubOptions;
  constructor(options: NodeHubOptions) {
    this.#options = options;
    this.ready = new Promise((r) => {
      this.#connectedOnce = r;
    });
    this.#wire(this.#channel);
  }

  start(): void {
    this.#connect();
  }

  /** Drops the current socket (tests: a network blip); the client reconnects by itself. */
  dropConnection(): void {
    this.#ws?.terminate();
  }

  stop(): void {
    this.#stopped = true;
    this.#ws?.close(1000, 'node stopping');
  }

  #log(line: string): void {
    this.#options.log?.(line);
  }

  #wire(channel: Channel): void {
    channel.onBody = (b) => this.#onBody(b);
    channel.onBroken = (reason) => this.#log(`hub channel broken: ${reason}`);
  }

  #connect(): void {
    if (this.#stopped) return;
    const ws = new WebSocket(this.#options.url, {
      headers: {
        authorization: `Bearer ${this.#options.token}`,
        [EXPERIMENT_HEADER]: this.#options.experimentId,
      },
      maxPayload: MAX_FRAME_BYTES,
      handshakeTimeout: 10_000,
      ...(this.#options.ca ? { ca: this.#options.ca } : {}),
    });
    this.#ws = ws;
    let retried = false;
    const retry = (why: string) => {
      if (retried) return;
      retried = true;
      if (this.#ws === ws) this.#ws = undefined;
      if (this.#stopped) return;
      this.#log(`hub connection lost (${why}); retrying in ${this.#backoff} ms`);
      setTimeout(() => this.#connect(), this.#backoff).unref?.();
      this.#backoff = Math.min(this.#backoff * 2, 5000);
    };
    ws.on('unexpected-response', (_req, res) => {
      ws.terminate();
      retry(`HTTP ${res.statusCode}`);
    });
    ws.on('error', (err) => retry(err.message));
    ws.on('close', (code) => retry(`closed ${code}`));
    ws.once('open', () => {
      const hello: Frame = { k: 'hello', epoch: this.#hostEpoch, received: this.#channel.received };
      ws.send(JSON.stringify(hello));
      ws.once('message', (data) => {
        let frame: Frame;
        try {
          frame = parseFrame(data.toString());
        } catch {
          ws.close(4400, 'bad welcome');
          return;
        }
        if (frame.k !== 'welcome') {
          ws.close(4400, 'expected welcome');
          return;
        }
        let peerReceived = frame.received;
        if (frame.epoch !== this.#hostEpoch) {
          if (this.#hostEpoch !== null) this.#startOver();
          this.#hostEpoch = frame.epoch;
          peerReceived = 0;
        }
        this.#backoff = 250;
        this.#channel.attach(ws, peerReceived);
        this.#log(`connected to the hub ${this.#options.url}`);
        this.#connectedOnce?.();
      });
    });
  }

  /** The host lost our channel (it restarted): streams and uploads of the old one are gone. */
  #startOver(): void {
    this.#channel.detach();
    for (const t of this.#streams.values()) t.ended();
    this.#streams.clear();
    this.#uploads.clear();
    this.#channel = new Channel();
    this.#wire(this.#channel);
  }

  #send(body: Body): void {
    try {
      this.#channel.send(body);
    } catch (err) {
      this.#log((err as Error).message);
    }
  }

  #reply(id: number, work: () => Promise<Record<string, unknown>> | Record<string, unknown>): void {
    Promise.resolve()
      .then(work)
      .then(
        (value) => this.#send({ t: 'res', id, ok: true, value }),
        (err: unknown) => {
          const code = err instanceof ContainerRuntimeError ? err.code : 'exec_failed';
          this.#send({ t: 'res', id, ok: false, code, message: (err as Error)?.message ?? String(err) });
        },
      );
  }

  #onBody(b: Body): void {
    const { workDir } = this.#options;
    switch (b.t) {
      case 'open': {
        const t = new StreamTransport(b.s, (body) => this.#send(body), false);
        const ended = t.ended.bind(t);
        t.ended = () => {
          this.#streams.delete(b.s);
          ended();
        };
        this.#streams.set(b.s, t);
        void this.#options
          .serveMcp(t)
          .catch((err: unknown) => this.#log(`MCP stream ${b.s}: ${String(err)}`));
        return;
      }
      case 'mcp':
      case 'close':
        routeStreamFrame(this.#streams, b);
        return;
      case 'req':
        if (b.op === 'exec') this.#reply(b.id, () => execOp(workDir, b.args));
        else if (b.op === 'stats') this.#reply(b.id, () => statsOp());
        else if (b.op === 'cp_out')
          this.#reply(b.id, () => cpOutOp(workDir, b.id, b.args, (x) => this.#send(x)));
        else {
          try {
            this.#uploads.set(b.id, new Upload(b.args));
          } catch (err) {
            this.#reply(b.id, () => {
              throw err;
            });
          }
        }
        return;
      case 'chunk':
        this.#uploads.get(b.id)?.add(Buffer.from(b.d, 'base64'));
        return;
      case 'end': {
        const upload = this.#uploads.get(b.id);
        if (!upload) return;
        this.#uploads.delete(b.id);
        this.#reply(b.id, () => upload.finish(workDir));
        return;
      }
      default:
        return;
    }
  }
}

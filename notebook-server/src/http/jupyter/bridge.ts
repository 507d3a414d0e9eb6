// One kernel's WebSocket fan-in/fan-out for Jupyter clients. Every client's
// requests go to the same kernel connection; iopub goes to every client, and
// shell/control/stdin replies go to the connection that sent the request
// (found by the request's msg_id, whatever its header.session says), like
// jupyter_server's per-connection sockets; a reply to a request we did not
// relay falls back to parent_header.session. A
// client that drops keeps a bounded buffer of what it missed, replayed when it
// reconnects with the same session_id.
import type WebSocket from 'ws';
import type { Kernel } from '../../kernel/types.ts';
import type { Message } from '../../kernel/wire.ts';
import { decodeFrame, encodeFrame, FrameError, type Framing } from './framing.ts';

/** A kernel that can relay raw messages (KernelClient is one). */
export type RawKernel = Kernel & {
  send(channel: 'shell' | 'control' | 'stdin', message: Message): Promise<void>;
};

export function isRawKernel(k: Kernel | null | undefined): k is RawKernel {
  return !!k && typeof (k as Partial<RawKernel>).send === 'function';
}

export interface BridgeSource {
  /** The live kernel, or null if none is running right now. */
  current(): Kernel | null;
  /** The live kernel, starting one if needed. */
  ensure(): Promise<Kernel>;
}

export interface BridgeOptions {
  log: (m: string) => void;
  /** Buffered messages kept per disconnected client (default 1000). */
  replayLimit?: number;
  /** How long a disconnected client's buffer is kept (default 60 s). */
  replayTtlMs?: number;
  /** A client this far behind (bytes queued) is cut off; it reconnects and gets the replay. */
  maxBufferedBytes?: number;
  onActivity?: () => void;
}

const REQUESTERS_KEPT = 10_000;

interface Client {
  ws: WebSocket;
  session: string;
  framing: Framing;
}

interface Parked {
  messages: Message[];
  timer: NodeJS.Timeout;
}

export class KernelBridge {
  readonly #clients = new Set<Client>();
  readonly #parked = new Map<string, Parked>();
  /** Request msg_id → the client session that sent it (bounded, oldest dropped first). */
  readonly #requesters = new Map<string, string>();
  #attached: Kernel | null = null;
  #sendChain: Promise<unknown> = Promise.resolve();
  /** Frames dropped because they were malformed (for tests and logs). */
  droppedFrames = 0;

  readonly #source: BridgeSource;
  readonly #options: BridgeOptions;
  constructor(source: BridgeSource, options: BridgeOptions) {
    this.#source = source;
    this.#options = options;
    this.refresh();
  }

  get connections(): number {
    return this.#clients.size;
  }

  /** Follows the source's current kernel (after a restart the session holds a new one). */
  refresh(): void {
    const k = this.#source.current();
    if (k === this.#attached) return;
    this.#attached?.off('message', this.#onKernelMessage);
    this.#attached = k;
    k?.on('message', this.#onKernelMessage);
  }

  connect(ws: WebSocket, session: string, framing: Framing): void {
    // A reconnect may arrive before the old socket's close: the new one wins.
    for (const c of this.#clients) {
      if (c.session === session) {
        this.#clients.delete(c);
        c.ws.close(1000, 'replaced by a new connection');
      }
    }
    const client: Client = { ws, session, framing };
    const parked = this.#parked.get(session);
    if (parked) {
      clearTimeout(parked.timer);
      this.#parked.delete(session);
      for (const m of parked.messages) this.#deliver(client, m);
    }
    this.#clients.add(client);
    ws.on('message', (data, isBinary) => this.#onClientFrame(client, data as Buffer, isBinary));
    ws.on('close', () => this.#onClose(client));
    ws.on('error', (err) => this.#options.log(`kernel ws error (session ${session}): ${err.message}`));
  }

  close(): void {
    this.#attached?.off('message', this.#onKernelMessage);
    this.#attached = null;
    for (const c of this.#clients) c.ws.close(1001, 'kernel shut down');
    this.#clients.clear();
    for (const p of this.#parked.values()) clearTimeout(p.timer);
    this.#parked.clear();
  }

  #onClose(client: Client): void {
    if (!this.#clients.delete(client)) return;
    const ttl = this.#options.replayTtlMs ?? 60_000;
    const timer = setTimeout(() => this.#parked.delete(client.session), ttl);
    timer.unref();
    this.#parked.set(client.session, { messages: [], timer });
  }

  #onClientFrame(client: Client, data: Buffer, isBinary: boolean): void {
    let message: Message;
    try {
      message = decodeFrame(data, isBinary, client.framing);
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      this.droppedFrames += 1;
      this.#options.log(`dropped a malformed kernel frame from session ${client.session}: ${err.message}`);
      return;
    }
    this.#options.onActivity?.();
    const channel = message.channel as 'shell' | 'control' | 'stdin';
    if (channel !== 'stdin') this.#remember(message.header.msg_id, client.session);
    // Serialised so requests reach the kernel in the order the client sent them,
    // even while the first one waits for the kernel to start.
    this.#sendChain = this.#sendChain
      .then(async () => {
        const kernel = await this.#source.ensure();
        this.refresh();
        if (!isRawKernel(kernel)) throw new Error('this kernel cannot relay raw messages');
        await kernel.send(channel, message);
      })
      .catch((err: Error) => {
        this.#options.log(`could not relay ${message.header.msg_type} to the kernel: ${err.message}`);
      });
  }

  #onKernelMessage = (message: Message): void => {
    this.#options.onActivity?.();
    if (message.channel === 'iopub') {
      for (const c of this.#clients) this.#deliver(c, message);
      for (const p of this.#parked.values()) this.#park(p, message);
      return;
    }
    const parent = message.parent_header as { msg_id?: string; session?: string };
    const target = (parent.msg_id !== undefined && this.#requesters.get(parent.msg_id)) || parent.session;
    if (target === undefined) return;
    for (const c of this.#clients) if (c.session === target) this.#deliver(c, message);
    const parked = this.#parked.get(target);
    if (parked) this.#park(parked, message);
  };

  #remember(msgId: string, session: string): void {
    this.#requesters.delete(msgId);
    this.#requesters.set(msgId, session);
    // Replies may come many times per request (stdin input_request) or never: keep the newest.
    if (this.#requesters.size > REQUESTERS_KEPT) {
      const oldest = this.#requesters.keys().next().value;
      if (oldest !== undefined) this.#requesters.delete(oldest);
    }
  }

  #park(p: Parked, message: Message): void {
    p.messages.push(message);
    const limit = this.#options.replayLimit ?? 1000;
    if (p.messages.length > limit) p.messages.splice(0, p.messages.length - limit);
  }

  #deliver(client: Client, message: Message): void {
    if (client.ws.readyState !== client.ws.OPEN) return;
    if (client.ws.bufferedAmount > (this.#options.maxBufferedBytes ?? 64 * 1024 * 1024)) {
      this.#options.log(`kernel client ${client.session} is too far behind; disconnecting it`);
      client.ws.terminate();
      return;
    }
    client.ws.send(encodeFrame(message, client.framing));
  }
}

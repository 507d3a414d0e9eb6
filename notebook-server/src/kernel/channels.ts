// The five ZeroMQ sockets of one kernel connection: shell/control/stdin Dealers
// sharing one routing id (so stdin requests reach the client that asked), an
// iopub Subscriber, and a heartbeat Request socket.
import { randomUUID } from 'node:crypto';
import { closeSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import type { Dealer, Request, Subscriber } from 'zeromq';
import { PathError } from '../confine/relative.ts';
import { openSocketInside } from '../confine/socket.ts';
import { type ChannelName, type ConnectionInfo, channelUrl } from './connection.ts';
import { errorText, kernelLog } from './log.ts';
import { sleep } from './util.ts';
import type { Channel, Message, WireCodec } from './wire.ts';
import { zmq } from './zmq.ts';

export type MessageHandler = (message: Message) => void;

/** How often a socket that the kernel has not bound yet is looked for (ipc sockets inside a work dir). */
const BIND_POLL_MS = 5;

export interface ChannelOptions {
  /**
   * ipc sockets that live in a directory the kernel can write (its work dir, under a host that
   * serves the session itself): each is connected through a descriptor of the socket inode, once
   * the kernel has bound it, so a link planted at a socket's path is refused, never followed.
   */
  socketsInside?: string;
  /** A channel that cannot be connected (a link at its socket's path). */
  onError?: (channel: ChannelName, err: Error) => void;
}

type Sendable = Dealer;

/** Serialises sends per socket: zeromq v6 allows one pending send at a time. */
class SendQueue {
  #tail: Promise<unknown> = Promise.resolve();
  readonly #socket: Sendable;
  constructor(socket: Sendable) {
    this.#socket = socket;
  }

  send(frames: Buffer[]): Promise<void> {
    const next = this.#tail.then(() => this.#socket.send(frames));
    // Keep the chain alive after a failed send; the caller still sees the error.
    this.#tail = next.catch(() => undefined);
    return next;
  }
}

export class KernelChannels {
  readonly #shell: Dealer;
  readonly #control: Dealer;
  readonly #stdin: Dealer;
  readonly #iopub: Subscriber;
  readonly #queues: Record<'shell' | 'control' | 'stdin', SendQueue>;
  #hb: Request | undefined;
  /** Where the heartbeat socket connects (pinned once, reused by each replacement socket). */
  #hbUrl: string | undefined;
  #closed = false;
  /** Descriptors of pinned ipc sockets: a reconnect goes to the same inode, so they stay open. */
  readonly #pinned: number[] = [];

  readonly #info: ConnectionInfo;
  readonly #codec: WireCodec;
  readonly #onMessage: MessageHandler;
  readonly #options: ChannelOptions;
  constructor(
    info: ConnectionInfo,
    codec: WireCodec,
    onMessage: MessageHandler,
    options: ChannelOptions = {},
  ) {
    this.#info = info;
    this.#codec = codec;
    this.#onMessage = onMessage;
    this.#options = info.transport === 'ipc' ? options : {};
    const routingId = `peragus-${randomUUID()}`;
    // linger 0: a dead kernel must not keep close() (or process exit) waiting.
    // A short reconnect interval: we connect before the kernel binds, and the
    // default 100 ms retry would add up to that much to every cold start.
    const opts = { linger: 0, reconnectInterval: 25 };
    const { Dealer, Subscriber } = zmq();
    this.#shell = new Dealer({ routingId, ...opts });
    this.#control = new Dealer({ routingId, ...opts });
    this.#stdin = new Dealer({ routingId, ...opts });
    this.#iopub = new Subscriber(opts);
    this.#iopub.subscribe();
    const sockets: [ChannelName, Dealer | Subscriber][] = [
      ['shell', this.#shell],
      ['control', this.#control],
      ['stdin', this.#stdin],
      ['iopub', this.#iopub],
    ];
    if (this.#options.socketsInside) void this.#connectInside(this.#options.socketsInside, sockets);
    else for (const [channel, socket] of sockets) socket.connect(channelUrl(info, channel));
    this.#queues = {
      shell: new SendQueue(this.#shell),
      control: new SendQueue(this.#control),
      stdin: new SendQueue(this.#stdin),
    };
    this.#pump(this.#shell, 'shell');
    this.#pump(this.#control, 'control');
    this.#pump(this.#stdin, 'stdin');
    this.#pump(this.#iopub, 'iopub');
  }

  /** Connects each socket once the kernel has bound it (sends wait for their peer meanwhile). */
  async #connectInside(root: string, sockets: [ChannelName, Dealer | Subscriber][]): Promise<void> {
    await Promise.resolve(); // a refusal is reported to a constructed client, never from inside its constructor
    for (const [channel, socket] of sockets) {
      for (;;) {
        if (this.#closed) return;
        const url = this.#pin(root, channel);
        if (url === null) return;
        if (url) {
          socket.connect(url);
          break;
        }
        await sleep(BIND_POLL_MS);
      }
    }
  }

  /** The pinned url of a channel's socket; undefined while it is not bound yet, null when refused. */
  #pin(root: string, channel: ChannelName): string | undefined | null {
    const path = channelUrl(this.#info, channel).slice('ipc://'.length);
    try {
      // A relative path is the kernel's own: relative to its cwd, the work dir (connection.ts).
      const rel = isAbsolute(path) ? relative(root, path) : path;
      const { fd, pinned } = openSocketInside(root, rel, { what: `the kernel's ${channel} socket` });
      this.#pinned.push(fd);
      return `ipc://${pinned}`;
    } catch (err) {
      if (err instanceof PathError && err.code === 'not_found') return undefined;
      this.#options.onError?.(channel, err as Error);
      return null;
    }
  }

  send(channel: 'shell' | 'control' | 'stdin', message: Message): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('kernel channels are closed'));
    return this.#queues[channel].send(this.#codec.encode(message));
  }

  async #pump(socket: Dealer | Subscriber, channel: Channel): Promise<void> {
    try {
      for await (const frames of socket) {
        const decoded = this.#codec.decode(frames, channel);
        if (!decoded) continue;
        try {
          this.#onMessage(decoded.message);
        } catch (err) {
          // A throwing listener (onOutput, 'message') must not stop the receive loop.
          kernelLog.error(`[kernel] handling a ${channel} message failed: ${errorText(err)}`);
        }
      }
    } catch (err) {
      // Closing a socket ends its iterator with an error; anything else is a bug worth seeing.
      if (!this.#closed) kernelLog.error(`[kernel] ${channel} receive failed: ${errorText(err)}`);
    }
  }

  /** One heartbeat round trip; false when no echo within timeoutMs. */
  async ping(timeoutMs: number): Promise<boolean> {
    if (this.#closed) return false;
    if (!this.#hb) {
      const root = this.#options.socketsInside;
      this.#hbUrl ??= (root ? this.#pin(root, 'hb') : channelUrl(this.#info, 'hb')) ?? undefined;
      if (!this.#hbUrl) return false;
      this.#hb = new (zmq().Request)({ linger: 0, receiveTimeout: timeoutMs, sendTimeout: timeoutMs });
      this.#hb.connect(this.#hbUrl);
    }
    const hb = this.#hb;
    try {
      await hb.send('ping');
      await hb.receive();
      return true;
    } catch {
      // A Request socket that missed its reply is stuck in the receive state;
      // replace it rather than fight the REQ state machine.
      hb.close();
      if (this.#hb === hb) this.#hb = undefined;
      return false;
    }
  }

  /**
   * Pings every intervalMs (each ping may take up to intervalMs); after
   * maxMisses consecutive misses calls onLost once and stops. Returns stop().
   */
  heartbeat(o: {
    intervalMs: number;
    maxMisses: number;
    onMiss: () => void;
    onLost: (misses: number) => void;
  }): () => void {
    let running = true;
    void (async () => {
      let misses = 0;
      while (running && !this.#closed) {
        const t0 = Date.now();
        const ok = await this.ping(o.intervalMs);
        if (!running) return;
        misses = ok ? 0 : misses + 1;
        if (!ok) o.onMiss();
        if (misses >= o.maxMisses) {
          running = false;
          o.onLost(misses);
          return;
        }
        await sleep(Math.max(0, o.intervalMs - (Date.now() - t0)));
      }
    })();
    return () => {
      running = false;
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of [this.#shell, this.#control, this.#stdin, this.#iopub, this.#hb]) {
      try {
        s?.close();
      } catch {
        // Already closed.
      }
    }
    this.#hb = undefined;
    for (const fd of this.#pinned.splice(0)) closeSync(fd);
  }
}

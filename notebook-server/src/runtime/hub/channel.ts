// A reliable, ordered channel over a WebSocket that may drop and come back:
// every body gets a sequence number and stays in a replay buffer until the
// peer acknowledges it; after a reconnect each side replays what the other has
// not seen, and drops what it has already delivered. One instance lives as
// long as the experiment's node process (its `epoch`), across connections.
import { randomBytes } from 'node:crypto';
import type WebSocket from 'ws';
import { type Body, type Frame, parseFrame } from './wire.ts';

/** The replay buffer's cap: a peer that stays away while this much is unacknowledged breaks the channel. */
const MAX_UNACKED_BYTES = 256 * 2 ** 20;
const ACK_EVERY_MS = 100;
const ACK_EVERY_FRAMES = 32;

export class Channel {
  readonly epoch: string;
  onBody?: (body: Body) => void;
  /** The channel can no longer keep its promise (replay buffer overflow); it is dead for good. */
  onBroken?: (reason: string) => void;
  #outSeq = 0;
  #received = 0;
  #acked = 0;
  #unacked: { q: number; text: string }[] = [];
  #unackedBytes = 0;
  #ws: WebSocket | undefined;
  #ackTimer: NodeJS.Timeout | undefined;
  #broken: string | undefined;

  constructor(epoch?: string) {
    this.epoch = epoch ?? randomBytes(12).toString('hex');
  }

  /** Sequence number of the last body delivered from the peer (sent in hello/welcome). */
  get received(): number {
    return this.#received;
  }

  get connected(): boolean {
    return this.#ws !== undefined && this.#ws.readyState === 1;
  }

  get broken(): string | undefined {
    return this.#broken;
  }

  send(body: Body): void {
    if (this.#broken) throw new Error(`hub channel broken: ${this.#broken}`);
    const q = ++this.#outSeq;
    const text = JSON.stringify({ k: 'f', q, a: this.#received, b: body } satisfies Frame);
    this.#unacked.push({ q, text });
    this.#unackedBytes += text.length;
    if (this.#unackedBytes > MAX_UNACKED_BYTES) {
      this.#break(`more than ${MAX_UNACKED_BYTES / 2 ** 20} MiB unacknowledged (peer away too long)`);
      return;
    }
    if (this.connected) this.#ws!.send(text);
  }

  /**
   * Takes over a connected socket whose hello/welcome exchange is done:
   * `peerReceived` is the last sequence number the peer delivered.
   */
  attach(ws: WebSocket, peerReceived: number): void {
    const old = this.#ws;
    this.detach();
    // A node that reconnects while its old socket still looks open: the new one wins.
    if (old && old !== ws) old.close(4001, 'replaced by a newer connection');
    this.#ws = ws;
    this.#trim(peerReceived);
    for (const f of this.#unacked) ws.send(f.text);
    ws.on('message', (data, isBinary) => {
      if (this.#ws !== ws) return;
      if (isBinary) {
        ws.close(4400, 'binary frames are not part of the hub protocol');
        return;
      }
      this.#onText(ws, data.toString());
    });
    ws.once('close', () => {
      if (this.#ws === ws) this.#ws = undefined;
    });
    this.#ackTimer = setInterval(() => this.#flushAck(), ACK_EVERY_MS);
    this.#ackTimer.unref();
  }

  detach(): void {
    if (this.#ackTimer) clearInterval(this.#ackTimer);
    this.#ackTimer = undefined;
    this.#ws = undefined;
  }

  /** Closes the socket for good (the channel stays usable by a later attach unless broken). */
  close(code = 1000, reason = ''): void {
    const ws = this.#ws;
    this.detach();
    ws?.close(code, reason);
  }

  #onText(ws: WebSocket, text: string): void {
    let frame: Frame;
    try {
      frame = parseFrame(text);
    } catch (err) {
      ws.close(4400, (err as Error).message.slice(0, 120));
      return;
    }
    if (frame.k === 'ack') {
      this.#trim(frame.a);
      return;
    }
    if (frame.k !== 'f') return; // a late hello/welcome: nothing to do
    this.#trim(frame.a);
    if (frame.q <= this.#received) return; // replayed, already delivered
    if (frame.q !== this.#received + 1) {
      // A gap cannot happen on one ordered connection: resync by reconnecting.
      ws.close(4409, `sequence gap: got ${frame.q} after ${this.#received}`);
      return;
    }
    this.#received = frame.q;
    if (this.#received - this.#acked >= ACK_EVERY_FRAMES) this.#flushAck();
    this.onBody?.(frame.b);
  }

  #flushAck(): void {
    if (this.#acked === this.#received || !this.connected) return;
    this.#acked = this.#received;
    this.#ws!.send(JSON.stringify({ k: 'ack', a: this.#received } satisfies Frame));
  }

  #trim(peerReceived: number): void {
    let drop = 0;
    while (drop < this.#unacked.length && this.#unacked[drop]!.q <= peerReceived) {
      this.#unackedBytes -= this.#unacked[drop]!.text.length;
      drop++;
    }
    if (drop > 0) this.#unacked.splice(0, drop);
  }

  #break(reason: string): void {
    if (this.#broken) return;
    this.#broken = reason;
    this.#unacked = [];
    this.#unackedBytes = 0;
    this.close(4500, reason.slice(0, 120));
    this.onBroken?.(reason);
  }
}

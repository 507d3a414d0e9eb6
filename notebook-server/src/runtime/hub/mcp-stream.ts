// One MCP connection carried on a hub channel as stream `s`: the host's
// client and the node's server each hold one of these per stream.
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Body } from './wire.ts';

export class StreamTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  #closed = false;

  readonly #sendBody: (body: Body) => void;
  readonly #opens: boolean;
  constructor(
    readonly stream: number,
    sendBody: (body: Body) => void,
    /** Sends `open` on start (the host's side opens; the node's side answers). */
    opens: boolean,
  ) {
    this.#sendBody = sendBody;
    this.#opens = opens;
  }

  async start(): Promise<void> {
    if (this.#opens) this.#sendBody({ t: 'open', s: this.stream });
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (this.#closed) throw new Error('the hub stream is closed');
    this.#sendBody({ t: 'mcp', s: this.stream, m: message });
  }

  /** A message of this stream from the peer. */
  deliver(message: JSONRPCMessage): void {
    if (!this.#closed) this.onmessage?.(message);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      this.#sendBody({ t: 'close', s: this.stream });
    } catch {
      // channel gone: the peer drops the stream with it
    }
    this.ended();
  }

  /** The peer closed the stream, or the channel is gone. */
  ended(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onclose?.();
  }
}

/**
 * Hands a stream frame to its stream, on either side of the channel: an MCP
 * message is delivered, a close ends it. False when `b` is not a stream frame.
 */
export function routeStreamFrame(streams: ReadonlyMap<number, StreamTransport>, b: Body): boolean {
  if (b.t === 'mcp') streams.get(b.s)?.deliver(b.m);
  else if (b.t === 'close') streams.get(b.s)?.ended();
  else return false;
  return true;
}

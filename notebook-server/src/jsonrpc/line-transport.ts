// An MCP transport over any pair of byte streams framed as JSON lines
// (stdin/stdout, a socket). Lines that cannot be handled (over the size cap,
// not JSON, not JSON-RPC) get a JSON-RPC error reply when `replyToRejected` is
// set (a server face), and the stream keeps going either way.
import type { Readable, Writable } from 'node:stream';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { JsonLineReader, type RejectedLine, rejectionReply } from './line-reader.ts';

export interface LineTransportOptions {
  maxLineBytes?: number;
  /** Answer rejected lines with a JSON-RPC error (servers); otherwise only report them. */
  replyToRejected?: boolean;
  largeContentHint?: string;
  /** Called for every rejected line (logging). */
  onRejected?: (rejected: RejectedLine) => void;
}

export class LineFramedTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  readonly #reader: JsonLineReader;
  #closed = false;

  readonly #input: Readable;
  readonly #output: Writable;
  constructor(input: Readable, output: Writable, options: LineTransportOptions = {}) {
    this.#input = input;
    this.#output = output;
    this.#reader = new JsonLineReader({
      ...(options.maxLineBytes !== undefined ? { maxLineBytes: options.maxLineBytes } : {}),
      ...(options.largeContentHint !== undefined ? { largeContentHint: options.largeContentHint } : {}),
      onMessage: (m) => this.onmessage?.(m),
      onRejected: (r) => {
        options.onRejected?.(r);
        if (options.replyToRejected) void this.send(rejectionReply(r)).catch(() => undefined);
        else this.onerror?.(new Error(r.message));
      },
    });
  }

  #onData = (chunk: Buffer | string) => {
    try {
      this.#reader.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    } catch (err) {
      // A listener threw: report it, never let it end the stream.
      this.onerror?.(err as Error);
    }
  };
  #onError = (err: Error) => this.onerror?.(err);
  #onEnd = () => this.#finish();

  async start(): Promise<void> {
    this.#input.on('data', this.#onData);
    this.#input.on('error', this.#onError);
    this.#input.on('end', this.#onEnd);
    this.#input.on('close', this.#onEnd);
  }

  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#closed || this.#output.destroyed) {
        reject(new Error('the MCP stream is closed'));
        return;
      }
      this.#output.write(`${JSON.stringify(message)}\n`, (err) => (err ? reject(err) : resolve()));
    });
  }

  async close(): Promise<void> {
    this.#finish();
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#input.off('data', this.#onData);
    this.#input.off('error', this.#onError);
    this.#input.off('end', this.#onEnd);
    this.#input.off('close', this.#onEnd);
    this.#reader.clear();
    this.onclose?.();
  }
}

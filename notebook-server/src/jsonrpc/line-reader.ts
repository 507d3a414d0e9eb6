// Newline-delimited JSON-RPC with a size cap, for every stream face (stdio,
// a stdio bridge, the node socket). Unlike the SDK's ReadBuffer, a line over
// the cap does not end the stream: its bytes are dropped as they arrive (never
// buffered), and the line is reported as rejected, with the request id when it
// can be read from the line's head or tail, so the peer gets an error reply for
// that request and the stream goes on. A line that is not JSON, or not a
// JSON-RPC message, is reported the same way.
import { type JSONRPCMessage, JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js';

export const DEFAULT_MAX_LINE_BYTES = 10 * 1024 * 1024;

/** JSON-RPC error codes for lines that cannot be handled. */
export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;

export interface RejectedLine {
  code: typeof PARSE_ERROR | typeof INVALID_REQUEST;
  /** The request id, when it could be read (null otherwise: JSON-RPC's "id unknown"). */
  id: string | number | null;
  message: string;
  bytes: number;
}

export interface LineReaderOptions {
  maxLineBytes?: number;
  onMessage: (message: JSONRPCMessage) => void;
  onRejected: (rejected: RejectedLine) => void;
  /** How to send large content instead, appended to the too-large message. */
  largeContentHint?: string;
}

const EDGE = 512;
const NEWLINE = 0x0a;

export class JsonLineReader {
  readonly #max: number;
  readonly #options: LineReaderOptions;
  #chunks: Buffer[] = [];
  #length = 0;
  /** Set while dropping a line over the cap: its head, byte count and latest tail. */
  #dropping: { head: Buffer; tail: Buffer; bytes: number } | null = null;

  constructor(options: LineReaderOptions) {
    this.#max = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.#options = options;
  }

  push(chunk: Buffer): void {
    let rest = chunk;
    while (rest.length > 0) {
      const nl = rest.indexOf(NEWLINE);
      const part = nl === -1 ? rest : rest.subarray(0, nl);
      this.#take(part);
      if (nl === -1) return;
      this.#endLine();
      rest = rest.subarray(nl + 1);
    }
  }

  /** Drops a partial line (the stream ended or was reset). */
  clear(): void {
    this.#chunks = [];
    this.#length = 0;
    this.#dropping = null;
  }

  #take(part: Buffer): void {
    if (part.length === 0) return;
    if (this.#dropping) {
      this.#dropping.bytes += part.length;
      this.#dropping.tail = lastBytes(Buffer.concat([this.#dropping.tail, part]), EDGE);
      return;
    }
    if (this.#length + part.length <= this.#max) {
      this.#chunks.push(part);
      this.#length += part.length;
      return;
    }
    const line = Buffer.concat([...this.#chunks, part]);
    this.#dropping = {
      head: Buffer.from(line.subarray(0, EDGE)),
      tail: Buffer.from(lastBytes(line, EDGE)),
      bytes: line.length,
    };
    this.#chunks = [];
    this.#length = 0;
  }

  #endLine(): void {
    const dropped = this.#dropping;
    if (dropped) {
      this.#dropping = null;
      const mib = (this.#max / (1024 * 1024)).toFixed(0);
      const hint = this.#options.largeContentHint ? `; ${this.#options.largeContentHint}` : '';
      this.#options.onRejected({
        code: INVALID_REQUEST,
        id: idFromEdges(dropped.head.toString('utf8'), dropped.tail.toString('utf8')),
        message: `message of ${dropped.bytes} bytes refused: the limit is ${mib} MiB per message${hint}`,
        bytes: dropped.bytes,
      });
      return;
    }
    const line = Buffer.concat(this.#chunks).toString('utf8').replace(/\r$/, '');
    this.#chunks = [];
    this.#length = 0;
    if (line.trim() === '') return;
    this.#parse(line);
  }

  #parse(line: string): void {
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (err) {
      this.#options.onRejected({
        code: PARSE_ERROR,
        id: null,
        message: `parse error: the line is not JSON (${(err as Error).message.slice(0, 200)}); send one JSON-RPC message per line`,
        bytes: Buffer.byteLength(line),
      });
      return;
    }
    const parsed = JSONRPCMessageSchema.safeParse(json);
    if (!parsed.success) {
      const raw = (json as { id?: unknown } | null)?.id;
      this.#options.onRejected({
        code: INVALID_REQUEST,
        id: typeof raw === 'string' || typeof raw === 'number' ? raw : null,
        message:
          'invalid request: not a JSON-RPC 2.0 message (expected {"jsonrpc":"2.0", "method", "id"?, "params"?} or a response)',
        bytes: Buffer.byteLength(line),
      });
      return;
    }
    this.#options.onMessage(parsed.data);
  }
}

function lastBytes(buf: Buffer, n: number): Buffer {
  return buf.length <= n ? buf : buf.subarray(buf.length - n);
}

/**
 * The id of a request whose middle was dropped. Clients write "id" either first
 * (`{"jsonrpc":"2.0","id":7,…`) or last (`…,"jsonrpc":"2.0","id":7}`), so only
 * those two places count: an "id" inside params is never taken for it.
 */
export function idFromEdges(head: string, tail: string): string | number | null {
  const value = String.raw`(-?\d{1,15}|"(?:[^"\\]|\\.){0,200}")`;
  const first = new RegExp(String.raw`^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*${value}`).exec(
    head,
  );
  const last = new RegExp(String.raw`[,{]\s*"id"\s*:\s*${value}\s*\}\s*$`).exec(tail);
  const text = first?.[1] ?? last?.[1];
  if (text === undefined) return null;
  try {
    const id = JSON.parse(text) as unknown;
    return typeof id === 'number' || typeof id === 'string' ? id : null;
  } catch {
    return null;
  }
}

/** The JSON-RPC error reply for a rejected line. */
export function rejectionReply(r: RejectedLine): JSONRPCMessage {
  return {
    jsonrpc: '2.0',
    id: r.id,
    error: { code: r.code, message: r.message },
  } as unknown as JSONRPCMessage;
}

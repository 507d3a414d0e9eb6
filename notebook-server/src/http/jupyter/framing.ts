// Kernel-channel WebSocket framings that Jupyter clients speak:
//  - `v1.kernel.websocket.jupyter.org`: one binary frame, a little-endian u64
//    offset table, then channel | header | parent | metadata | content | buffers…
//  - legacy (no subprotocol): a JSON text frame carrying `channel`, or, when the
//    message has buffers, a binary frame with a big-endian u32 offset table.

import { PeragusError } from '../../errors/index.ts';
import type { Message } from '../../kernel/wire.ts';

export const V1_PROTOCOL = 'v1.kernel.websocket.jupyter.org';
export type Framing = 'v1' | 'legacy';

export class FrameError extends PeragusError {
  constructor(message: string) {
    super('invalid_frame', message);
  }
}

const CLIENT_CHANNELS = new Set(['shell', 'control', 'stdin']);
const ALL_CHANNELS = new Set(['shell', 'control', 'stdin', 'iopub']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bufferViews(message: Message): Buffer[] {
  return (message.buffers ?? []).map((b) =>
    b instanceof ArrayBuffer ? Buffer.from(b) : Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

export function encodeFrame(message: Message, framing: Framing): Buffer | string {
  return framing === 'v1' ? encodeV1(message) : encodeLegacy(message);
}

export function encodeV1(message: Message): Buffer {
  const parts = [
    Buffer.from(message.channel, 'utf8'),
    Buffer.from(JSON.stringify(message.header), 'utf8'),
    Buffer.from(JSON.stringify(message.parent_header ?? {}), 'utf8'),
    Buffer.from(JSON.stringify(message.metadata ?? {}), 'utf8'),
    Buffer.from(JSON.stringify(message.content ?? {}), 'utf8'),
    ...bufferViews(message),
  ];
  // One offset per part start plus the end of the message.
  const count = parts.length + 1;
  const table = Buffer.alloc(8 * (1 + count));
  table.writeBigUInt64LE(BigInt(count), 0);
  let at = table.length;
  for (let i = 0; i < parts.length; i++) {
    table.writeBigUInt64LE(BigInt(at), 8 * (i + 1));
    at += (parts[i] as Buffer).length;
  }
  table.writeBigUInt64LE(BigInt(at), 8 * count);
  return Buffer.concat([table, ...parts]);
}

export function encodeLegacy(message: Message): Buffer | string {
  const buffers = bufferViews(message);
  const { buffers: _drop, ...rest } = message;
  const json = JSON.stringify(rest);
  if (buffers.length === 0) return json;
  const parts = [Buffer.from(json, 'utf8'), ...buffers];
  const table = Buffer.alloc(4 * (parts.length + 1));
  table.writeUInt32BE(parts.length, 0);
  let at = table.length;
  for (let i = 0; i < parts.length; i++) {
    table.writeUInt32BE(at, 4 * (i + 1));
    at += (parts[i] as Buffer).length;
  }
  return Buffer.concat([table, ...parts]);
}

/**
 * Parses a frame from a client. Throws FrameError for anything malformed:
 * the caller drops that frame and keeps the connection.
 */
export function decodeFrame(
  data: Buffer | string,
  isBinary: boolean,
  framing: Framing,
  /** Parse server-to-client frames too (iopub): for clients and tests. */
  options: { anyChannel?: boolean } = {},
): Message {
  let message: unknown;
  try {
    if (framing === 'v1') {
      if (!isBinary || typeof data === 'string') throw new FrameError('v1 frames must be binary');
      message = decodeV1(data);
    } else if (!isBinary) {
      message = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
    } else {
      message = decodeLegacyBinary(typeof data === 'string' ? Buffer.from(data) : data);
    }
  } catch (err) {
    if (err instanceof FrameError) throw err;
    throw new FrameError(`unparseable frame: ${(err as Error).message}`);
  }
  return validate(message, options.anyChannel ?? false);
}

function readOffsets(buf: Buffer, count: number, width: 4 | 8, base: number): number[] {
  if (buf.length < base + width * count) throw new FrameError('offset table truncated');
  const offsets: number[] = [];
  for (let i = 0; i < count; i++) {
    const at = base + width * i;
    const v = width === 8 ? Number(buf.readBigUInt64LE(at)) : buf.readUInt32BE(at);
    const prev = offsets.at(-1) ?? 0;
    if (v < prev || v > buf.length) throw new FrameError('offsets out of range');
    offsets.push(v);
  }
  return offsets;
}

function decodeV1(buf: Buffer): unknown {
  if (buf.length < 8) throw new FrameError('frame shorter than its offset count');
  const count = Number(buf.readBigUInt64LE(0));
  if (count < 6 || count > 1024) throw new FrameError(`bad offset count ${count}`);
  const o = readOffsets(buf, count, 8, 8);
  const slice = (i: number) => buf.subarray(o[i] as number, o[i + 1] as number);
  const json = (i: number) => JSON.parse(slice(i).toString('utf8')) as unknown;
  const buffers: DataView[] = [];
  for (let i = 5; i < count - 1; i++) {
    const b = slice(i);
    buffers.push(new DataView(b.buffer, b.byteOffset, b.byteLength));
  }
  return {
    channel: slice(0).toString('utf8'),
    header: json(1),
    parent_header: json(2),
    metadata: json(3),
    content: json(4),
    buffers,
  };
}

function decodeLegacyBinary(buf: Buffer): unknown {
  if (buf.length < 4) throw new FrameError('frame shorter than its buffer count');
  const count = buf.readUInt32BE(0);
  if (count < 1 || count > 1024) throw new FrameError(`bad buffer count ${count}`);
  const o = [...readOffsets(buf, count, 4, 4), buf.length];
  const parsed = JSON.parse(buf.subarray(o[0], o[1]).toString('utf8')) as unknown;
  if (!isObject(parsed)) throw new FrameError('message is not a JSON object');
  const buffers: DataView[] = [];
  for (let i = 1; i < count; i++) {
    const b = buf.subarray(o[i], o[i + 1]);
    buffers.push(new DataView(b.buffer, b.byteOffset, b.byteLength));
  }
  return { ...parsed, buffers };
}

function validate(raw: unknown, anyChannel: boolean): Message {
  if (!isObject(raw)) throw new FrameError('message is not a JSON object');
  const { channel, header } = raw;
  if (typeof channel !== 'string' || !ALL_CHANNELS.has(channel)) {
    throw new FrameError(`unknown channel ${JSON.stringify(channel)}`);
  }
  if (!anyChannel && !CLIENT_CHANNELS.has(channel))
    throw new FrameError(`clients may not send on ${channel}`);
  if (!isObject(header) || typeof header.msg_id !== 'string' || typeof header.msg_type !== 'string') {
    throw new FrameError('header needs string msg_id and msg_type');
  }
  if (typeof header.session !== 'string' && !anyChannel)
    throw new FrameError('header needs a string session');
  return {
    channel,
    header,
    parent_header: isObject(raw.parent_header) ? raw.parent_header : {},
    metadata: isObject(raw.metadata) ? raw.metadata : {},
    content: isObject(raw.content) ? raw.content : {},
    buffers: Array.isArray(raw.buffers) ? raw.buffers : [],
  } as unknown as Message;
}

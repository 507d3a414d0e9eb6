// Jupyter wire protocol 5.3 codec. A message on the wire is
//   [ids/topic…, "<IDS|MSG>", hmac, header, parent_header, metadata, content, buffers…]
// and the HMAC-SHA256 covers the four JSON frames exactly as sent.
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { KernelMessage } from '@jupyterlab/services';

export type Message = KernelMessage.IMessage;
export type Channel = KernelMessage.Channel;
export type Header = KernelMessage.IHeader;

export const DELIMITER = '<IDS|MSG>';
const DELIMITER_BYTES = Buffer.from(DELIMITER);
export const PROTOCOL_VERSION = '5.3';

export interface WireStats {
  /** Messages dropped because their signature did not match. */
  badSignatures: number;
  /** Messages dropped because their frames could not be parsed. */
  malformed: number;
}

export interface Decoded {
  /** Frames before the delimiter: routing ids, or the iopub topic. */
  identities: Buffer[];
  message: Message;
}

export class WireCodec {
  readonly session: string;
  readonly stats: WireStats = { badSignatures: 0, malformed: 0 };
  readonly #key: Buffer;
  #counter = 0;

  constructor(
    key: string,
    readonly username = 'peragus',
    session: string = randomUUID(),
  ) {
    this.#key = Buffer.from(key, 'utf8');
    this.session = session;
  }

  /** A header for a new message; msg_ids are unique per codec (session uuid + counter). */
  header<T extends KernelMessage.MessageType>(msgType: T): KernelMessage.IHeader<T> {
    this.#counter += 1;
    return {
      msg_id: `${this.session}_${this.#counter}`,
      msg_type: msgType,
      session: this.session,
      username: this.username,
      date: new Date().toISOString(),
      version: PROTOCOL_VERSION,
    };
  }

  /** Builds a message (not yet encoded). */
  message<T extends KernelMessage.MessageType>(
    channel: Channel,
    msgType: T,
    content: object,
    parent: Header | Record<string, never> = {},
    metadata: Record<string, unknown> = {},
  ): Message {
    return {
      channel,
      header: this.header(msgType),
      parent_header: parent,
      metadata,
      content,
    } as unknown as Message;
  }

  sign(frames: readonly Buffer[]): string {
    if (this.#key.length === 0) return '';
    const hmac = createHmac('sha256', this.#key);
    for (const f of frames) hmac.update(f);
    return hmac.digest('hex');
  }

  encode(message: Message, identities: readonly Buffer[] = []): Buffer[] {
    const body = [
      Buffer.from(JSON.stringify(message.header)),
      Buffer.from(JSON.stringify(message.parent_header ?? {})),
      Buffer.from(JSON.stringify(message.metadata ?? {})),
      Buffer.from(JSON.stringify(message.content ?? {})),
    ];
    const buffers = (message.buffers ?? []).map((b) =>
      b instanceof ArrayBuffer ? Buffer.from(b) : Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    );
    return [...identities, DELIMITER_BYTES, Buffer.from(this.sign(body)), ...body, ...buffers];
  }

  /** Verifies and parses. Returns undefined (and counts why) for a forged or malformed message. */
  decode(frames: readonly Buffer[], channel: Channel): Decoded | undefined {
    const at = frames.findIndex((f) => f.equals(DELIMITER_BYTES));
    if (at < 0 || frames.length < at + 6) {
      this.stats.malformed += 1;
      return undefined;
    }
    const signature = frames[at + 1] as Buffer;
    const body = frames.slice(at + 2, at + 6);
    if (this.#key.length > 0 && !this.#verify(signature, body)) {
      this.stats.badSignatures += 1;
      return undefined;
    }
    try {
      const [header, parent, metadata, content] = body.map((b) => JSON.parse(b.toString('utf8')) as unknown);
      if (!isObject(header) || typeof header.msg_type !== 'string') throw new Error('bad header');
      const message = {
        channel,
        header,
        parent_header: isObject(parent) ? parent : {},
        metadata: isObject(metadata) ? metadata : {},
        content: isObject(content) ? content : {},
        buffers: frames.slice(at + 6),
      } as unknown as Message;
      return { identities: frames.slice(0, at), message };
    } catch {
      this.stats.malformed += 1;
      return undefined;
    }
  }

  #verify(signature: Buffer, body: readonly Buffer[]): boolean {
    const expected = Buffer.from(this.sign(body));
    // timingSafeEqual needs equal lengths; a length mismatch is itself a failure.
    return signature.length === expected.length && timingSafeEqual(signature, expected);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The msg_id of the request a message answers, or undefined. */
export function parentId(message: Message): string | undefined {
  const parent = message.parent_header as Partial<Header>;
  return parent.msg_id;
}

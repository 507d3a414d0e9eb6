// Minimal streaming tar (POSIX ustar + pax) for the Docker archive API: we
// only ever write one file with its parent directories and read regular files
// back, so a small codec avoids depending on a transitive npm package.
import { Readable } from 'node:stream';

const BLOCK = 512;
const ZERO_BLOCK = Buffer.alloc(BLOCK);

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';

export interface TarHeader {
  name: string;
  type: TarEntryType;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
  linkname: string;
}

export interface TarWriteEntry {
  name: string;
  type: 'file' | 'directory';
  mode: number;
  uid: number;
  gid: number;
  mtime?: Date;
  /** Files only: byte length of `body`. */
  size?: number;
  body?: Uint8Array | AsyncIterable<Uint8Array>;
}

function octal(value: number, width: number): string {
  // width includes the terminating NUL
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function paxRecord(key: string, value: string): string {
  // The record length counts its own decimal digits: iterate to the fixed point.
  const body = ` ${key}=${value}\n`;
  const base = Buffer.byteLength(body);
  let len = base + String(base).length;
  while (len !== base + String(len).length) len = base + String(len).length;
  return `${len}${body}`;
}

function header(fields: {
  name: string;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: Date;
}): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(fields.name, 0, 100, 'utf8');
  b.write(octal(fields.mode & 0o7777, 8), 100, 'ascii');
  b.write(octal(fields.uid, 8), 108, 'ascii');
  b.write(octal(fields.gid, 8), 116, 'ascii');
  b.write(octal(fields.size, 12), 124, 'ascii');
  b.write(octal(Math.floor(fields.mtime.getTime() / 1000), 12), 136, 'ascii');
  b.write('        ', 148, 'ascii');
  b.write(fields.typeflag, 156, 'ascii');
  b.write('ustar\0', 257, 'ascii');
  b.write('00', 263, 'ascii');
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return b;
}

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rest);
}

async function* entryBlocks(entry: TarWriteEntry): AsyncGenerator<Buffer> {
  const size = entry.type === 'file' ? (entry.size ?? 0) : 0;
  const name = entry.type === 'directory' && !entry.name.endsWith('/') ? `${entry.name}/` : entry.name;
  const mtime = entry.mtime ?? new Date();
  const needsPax = Buffer.byteLength(name) > 100 || size > 0o77777777777;
  if (needsPax) {
    const pax = Buffer.from(paxRecord('path', name) + paxRecord('size', String(size)), 'utf8');
    yield header({ name: 'PaxHeader', typeflag: 'x', mode: 0o644, uid: 0, gid: 0, size: pax.length, mtime });
    yield pax;
    yield padding(pax.length);
  }
  yield header({
    name: needsPax ? name.slice(0, 99) : name,
    typeflag: entry.type === 'directory' ? '5' : '0',
    mode: entry.mode,
    uid: entry.uid,
    gid: entry.gid,
    size: needsPax && size > 0o77777777777 ? 0 : size,
    mtime,
  });
  if (entry.type !== 'file' || !entry.body) return;
  let written = 0;
  if (entry.body instanceof Uint8Array) {
    written = entry.body.byteLength;
    yield Buffer.from(entry.body.buffer, entry.body.byteOffset, entry.body.byteLength);
  } else {
    for await (const chunk of entry.body) {
      written += chunk.byteLength;
      if (written > size)
        throw new Error(`tar: "${entry.name}" grew beyond its declared ${size} bytes while copying`);
      yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    }
  }
  if (written !== size) throw new Error(`tar: "${entry.name}" has ${written} bytes, ${size} were declared`);
  yield padding(size);
}

/** A tar archive of the given entries as a byte stream (bodies are streamed, not buffered). */
export function packTar(entries: TarWriteEntry[]): Readable {
  async function* all(): AsyncGenerator<Buffer> {
    for (const entry of entries) yield* entryBlocks(entry);
    yield ZERO_BLOCK;
    yield ZERO_BLOCK;
  }
  return Readable.from(all(), { objectMode: false });
}

/** Pulls exact byte counts out of a chunked stream. */
class ByteReader {
  #buffered: Buffer[] = [];
  #length = 0;
  #done = false;
  readonly #iterator: AsyncIterator<Uint8Array>;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#iterator = source[Symbol.asyncIterator]();
  }

  async #fill(min: number): Promise<void> {
    while (this.#length < min && !this.#done) {
      const next = await this.#iterator.next();
      if (next.done) {
        this.#done = true;
        break;
      }
      const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
      if (chunk.length === 0) continue;
      this.#buffered.push(chunk);
      this.#length += chunk.length;
    }
  }

  #take(n: number): Buffer {
    const all =
      this.#buffered.length === 1 ? this.#buffered[0]! : Buffer.concat(this.#buffered, this.#length);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.#buffered = rest.length ? [rest] : [];
    this.#length = rest.length;
    return out;
  }

  /** Exactly n bytes, or null at a clean end of stream; throws on a truncated stream. */
  async exact(n: number): Promise<Buffer | null> {
    await this.#fill(n);
    if (this.#length === 0 && this.#done) return null;
    if (this.#length < n) throw new Error('tar: archive ends in the middle of a block');
    return this.#take(n);
  }

  /** Up to n bytes in the chunks they arrive in. */
  async *chunks(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.#length === 0) await this.#fill(1);
      if (this.#length === 0) throw new Error('tar: archive ends in the middle of an entry');
      const piece = this.#take(Math.min(left, this.#length));
      left -= piece.length;
      yield piece;
    }
  }

  /** Stops reading: the source's iterator is returned, which destroys a stream source. */
  async close(): Promise<void> {
    this.#buffered = [];
    this.#length = 0;
    if (this.#done) return;
    this.#done = true;
    await this.#iterator.return?.();
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.chunks(n)) {
      // discard
    }
  }
}

function readString(block: Buffer, offset: number, width: number): string {
  const raw = block.subarray(offset, offset + width);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? width : end).toString('utf8');
}

function readNumber(block: Buffer, offset: number, width: number): number {
  const raw = block.subarray(offset, offset + width);
  if (raw[0]! & 0x80) {
    // GNU base-256 for values that do not fit in octal
    let value = raw[0]! & 0x7f;
    for (let i = 1; i < raw.length; i++) value = value * 256 + raw[i]!;
    return value;
  }
  const text = raw.toString('ascii').replace(/\0.*$/s, '').trim();
  return text === '' ? 0 : Number.parseInt(text, 8);
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space === -1) break;
    const len = Number.parseInt(data.subarray(pos, space).toString('ascii'), 10);
    if (!Number.isFinite(len) || len <= 0) break;
    const record = data.subarray(space + 1, pos + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    pos += len;
  }
  return out;
}

const TYPES: Record<string, TarEntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '5': 'directory',
  '2': 'symlink',
  '1': 'hardlink',
};

export interface TarReadEntry {
  header: TarHeader;
  /** Must be consumed (or left alone) before asking for the next entry. */
  body: AsyncIterable<Buffer>;
}

/**
 * Streams the entries of a tar archive; pax and GNU long-name headers are folded into the next entry.
 * However the reading ends (the archive's end, an error, or the consumer stopping early), the
 * source is released: its iterator is returned, which destroys a stream source.
 */
export async function* readTar(source: AsyncIterable<Uint8Array>): AsyncGenerator<TarReadEntry> {
  const reader = new ByteReader(source);
  try {
    yield* readEntries(reader);
  } finally {
    await reader.close();
  }
}

async function* readEntries(reader: ByteReader): AsyncGenerator<TarReadEntry> {
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const block = await reader.exact(BLOCK);
    if (block === null || block.equals(ZERO_BLOCK)) return;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
    if (sum !== readNumber(block, 148, 8))
      throw new Error('tar: header checksum mismatch (not a tar stream?)');

    const flag = String.fromCharCode(block[156]!);
    const declared = readNumber(block, 124, 12);
    const size = pax.size !== undefined ? Number(pax.size) : declared;
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;

    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      const data = (await reader.exact(size)) ?? Buffer.alloc(0);
      await reader.skip(pad);
      if (flag === 'x') pax = { ...pax, ...parsePax(data) };
      else if (flag === 'L') longName = readString(data, 0, data.length);
      else if (flag === 'K') longLink = readString(data, 0, data.length);
      continue; // global pax headers carry nothing we use
    }

    const prefix = readString(block, 345, 155);
    const baseName = readString(block, 0, 100);
    const header: TarHeader = {
      name: pax.path ?? longName ?? (prefix ? `${prefix}/${baseName}` : baseName),
      type: TYPES[flag] ?? 'other',
      size,
      mode: readNumber(block, 100, 8),
      uid: readNumber(block, 108, 8),
      gid: readNumber(block, 116, 8),
      mtime: new Date(readNumber(block, 136, 12) * 1000),
      linkname: pax.linkpath ?? longLink ?? readString(block, 157, 100),
    };
    pax = {};
    longName = undefined;
    longLink = undefined;

    let consumed = 0;
    const body = (async function* () {
      for await (const piece of reader.chunks(size)) {
        consumed += piece.length;
        yield piece;
      }
    })();
    yield { header, body };
    // Skip whatever the consumer did not read, then the block padding.
    await reader.skip(size - consumed);
    await reader.skip(pad);
  }
}

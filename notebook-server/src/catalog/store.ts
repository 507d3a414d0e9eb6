// Content-addressed results store: every artifact lives once, at
// <home>/store/sha256/ab/cdef… (the first two hex digits make a fan-out
// directory so no directory grows to millions of entries).
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, fchmodSync } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { openTemp } from '../confine/atomic.ts';
import { CatalogError, ChecksumMismatchError } from './errors.ts';

export interface StoredBlob {
  sha256: string;
  bytes: number;
  /** Absolute path of the blob inside the store. */
  path: string;
}

export interface PutOptions {
  /** Lower-case or upper-case hex; the blob is refused (and nothing stored) when the content differs. */
  expectedSha256?: string;
  expectedBytes?: number;
}

export type PutSource = string | Readable | AsyncIterable<Uint8Array> | Uint8Array;

const SHA256_RE = /^[0-9a-f]{64}$/;

export function normalizeSha256(value: string, what = 'sha256'): string {
  const v = value.trim().toLowerCase();
  if (!SHA256_RE.test(v))
    throw new CatalogError('invalid_input', `${what} must be 64 hex digits, got "${value}"`);
  return v;
}

/** Streams a file once and returns its sha256 and size. */
export async function hashFile(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

export class ResultStore {
  readonly root: string;
  readonly #tmpDir: string;

  /** `home` is PERAGUS_HOME (the caller resolves the default ~/.peragus). */
  constructor(home: string) {
    this.root = join(home, 'store');
    this.#tmpDir = join(this.root, 'tmp');
  }

  pathFor(sha256: string): string {
    const sha = normalizeSha256(sha256);
    return join(this.root, 'sha256', sha.slice(0, 2), sha.slice(2));
  }

  /**
   * Copies `source` into the store. The content is hashed while it is written
   * to a temp file in the store (same file system), checked, fsynced and then
   * renamed into place, so a reader never sees a partial blob and a crash
   * leaves at most a temp file behind. Putting the same content twice is a no-op.
   */
  async put(source: PutSource, options: PutOptions = {}): Promise<StoredBlob & { created: boolean }> {
    const expected =
      options.expectedSha256 === undefined
        ? undefined
        : normalizeSha256(options.expectedSha256, 'expectedSha256');
    await mkdir(this.#tmpDir, { recursive: true });
    const temp = openTemp(join(this.#tmpDir, 'blob'), { mode: 0o600 });
    const hash = createHash('sha256');
    let bytes = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        bytes += chunk.length;
        done(null, chunk);
      },
    });
    const label = typeof source === 'string' ? source : 'stream';
    try {
      const input =
        typeof source === 'string'
          ? createReadStream(source)
          : source instanceof Uint8Array
            ? Readable.from([source])
            : source;
      await pipeline(input, tap, createWriteStream(temp.path, { fd: temp.fd, autoClose: false }));
      const sha256 = hash.digest('hex');
      if (expected !== undefined && sha256 !== expected)
        throw new ChecksumMismatchError(label, expected, sha256);
      if (options.expectedBytes !== undefined && bytes !== options.expectedBytes) {
        throw new CatalogError(
          'checksum_mismatch',
          `size mismatch for ${label}: expected ${options.expectedBytes} bytes, got ${bytes}`,
        );
      }
      const dest = this.pathFor(sha256);
      const existing = await stat(dest).catch(() => undefined);
      // Same address and same size: the content is already there (a different
      // size means a damaged blob, which the fresh copy replaces).
      if (existing?.isFile() && existing.size === bytes) {
        temp.discard();
        return { sha256, bytes, path: dest, created: false };
      }
      fchmodSync(temp.fd, 0o444);
      await mkdir(join(dest, '..'), { recursive: true });
      temp.commit(dest); // fsynced, then renamed into place
      return { sha256, bytes, path: dest, created: true };
    } catch (err) {
      temp.discard();
      throw err;
    }
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.stat(sha256)) !== undefined;
  }

  async stat(sha256: string): Promise<StoredBlob | undefined> {
    const path = this.pathFor(sha256);
    const st = await stat(path).catch(() => undefined);
    return st?.isFile() ? { sha256: normalizeSha256(sha256), bytes: st.size, path } : undefined;
  }

  /** Re-hashes a stored blob: false when it is missing or its content no longer matches its address. */
  async verify(sha256: string): Promise<boolean> {
    const blob = await this.stat(sha256);
    if (!blob) return false;
    return (await hashFile(blob.path)).sha256 === blob.sha256;
  }

  /** Removes temp files left by a crashed process (call when no put is in flight). */
  async cleanTemp(): Promise<number> {
    const names = await readdir(this.#tmpDir).catch(() => [] as string[]);
    await Promise.all(names.map((n) => rm(join(this.#tmpDir, n), { force: true })));
    return names.length;
  }
}

// Content-addressed results store: every artifact lives once, at
// <home>/store/sha256/ab/cdef… (the first two hex digits make a fan-out
// directory so no directory grows to millions of entries).
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, fchmodSync, mkdirSync } from 'node:fs';
import { chmod, link, lstat, mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
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
  /**
   * The source is a file the caller made and hands over (the host's copy of an artifact out of
   * an experiment): it is linked into the store, not copied, when both are on one file system.
   * The caller must never write it again: the store's blob and the file are one inode.
   */
  adopt?: boolean;
}

export type PutSource = string | Readable | AsyncIterable<Uint8Array> | Uint8Array;

const SHA256_RE = /^[0-9a-f]{64}$/;
/** link(2) refusals that mean "copy instead": another file system, or one without hard links. */
const UNLINKABLE = new Set(['EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK']);

/** Flushes a file's data to disk (an adopted file was written by someone else, maybe unsynced). */
async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

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
    if (options.adopt && typeof source === 'string') {
      const adopted = await this.#adopt(source, expected, options.expectedBytes);
      if (adopted) return adopted;
    }
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

  /**
   * Links `source` into the store under a temp name, hashes what the link holds and renames it
   * into place: no copy, and no new inode (on a file system without a journal, each new inode
   * costs a scan past every inode freed in the last seconds). Undefined when the file cannot be
   * linked here (another file system): the caller copies it instead.
   */
  async #adopt(
    source: string,
    expected: string | undefined,
    expectedBytes: number | undefined,
  ): Promise<(StoredBlob & { created: boolean }) | undefined> {
    const temp = join(this.#tmpDir, `.adopt.${randomBytes(6).toString('hex')}.peragus-tmp`);
    try {
      await link(source, temp);
    } catch (err) {
      if (UNLINKABLE.has((err as NodeJS.ErrnoException).code ?? '')) return undefined;
      throw err;
    }
    try {
      // link(2) takes a symbolic link itself, not its target: only a regular file is adopted.
      if (!(await lstat(temp)).isFile()) {
        await unlink(temp);
        return undefined;
      }
      const { sha256, bytes } = await hashFile(temp);
      if (expected !== undefined && sha256 !== expected)
        throw new ChecksumMismatchError(source, expected, sha256);
      if (expectedBytes !== undefined && bytes !== expectedBytes) {
        throw new CatalogError(
          'checksum_mismatch',
          `size mismatch for ${source}: expected ${expectedBytes} bytes, got ${bytes}`,
        );
      }
      const dest = this.pathFor(sha256);
      const existing = await stat(dest).catch(() => undefined);
      if (existing?.isFile() && existing.size === bytes) {
        await unlink(temp);
        return { sha256, bytes, path: dest, created: false };
      }
      await chmod(temp, 0o444);
      await syncFile(temp);
      await mkdir(join(dest, '..'), { recursive: true });
      await rename(temp, dest);
      return { sha256, bytes, path: dest, created: true };
    } catch (err) {
      await unlink(temp).catch(() => undefined);
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

  /**
   * A fresh path in the store's temp folder for a file that will be adopted (put with
   * `adopt`): on the store's file system, so the adoption is a link. The caller removes it
   * after the put (the blob keeps the inode); a crash leaves it to cleanTemp.
   */
  stagingPath(): string {
    mkdirSync(this.#tmpDir, { recursive: true });
    return join(this.#tmpDir, `.stage.${randomBytes(8).toString('hex')}`);
  }

  /** Removes temp files left by a crashed process (call when no put is in flight). */
  async cleanTemp(): Promise<number> {
    const names = await readdir(this.#tmpDir).catch(() => [] as string[]);
    await Promise.all(names.map((n) => rm(join(this.#tmpDir, n), { force: true })));
    return names.length;
  }
}

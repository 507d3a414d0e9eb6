// Atomic file writes, defined once. The bytes go to a fresh temp file beside
// the target, opened O_CREAT|O_EXCL|O_NOFOLLOW (a link planted at a temp name
// is refused, never written through), are flushed, and the temp is renamed
// over the target: a reader sees the old file or the new one, never half of
// one, and a failed write removes its temp file and leaves the old content.
//
// writeFileAtomic is for host paths Peragus chose (state files, session
// records, notebooks, the host address); writeInside (fs.ts) pins the parent
// directory of a client-chosen path first and then uses the same temp file.
// Streamed copies (cp_out, the catalog's content store) use openTemp directly.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fchownSync,
  fsync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { O_CREAT, O_EXCL, O_NOFOLLOW, O_WRONLY, type Owner } from './walk.ts';

export interface TempFile {
  /** Where the temp file is now (in the target's directory unless `dir` was given). */
  readonly path: string;
  readonly fd: number;
  /** Flushes (when `sync`), closes and renames the temp over `dest` (default: the target); on failure removes it. */
  commit(dest?: string): void;
  /** commit(), with the flush and the rename on libuv's thread pool: the event loop goes on meanwhile. */
  commitAsync(dest?: string): Promise<void>;
  /** Closes and removes the temp file; safe to call twice. */
  discard(): void;
}

export interface TempOptions {
  mode?: number;
  /** fsync before the rename (default true): the new content survives a crash. */
  sync?: boolean;
  /** Make the temp file here instead of beside the target (same file system). */
  dir?: string;
}

/** Opens a fresh temp file for `target`; write through `fd`, then commit() or discard(). */
export function openTemp(target: string, options: TempOptions = {}): TempFile {
  const name = `.${basename(target).slice(0, 100)}.${randomBytes(6).toString('hex')}.peragus-tmp`;
  const path = join(options.dir ?? dirname(target), name);
  const fd = openSync(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, options.mode ?? 0o644);
  let open = true;
  const close = () => {
    if (open) closeSync(fd);
    open = false;
  };
  const discard = () => {
    close();
    try {
      unlinkSync(path);
    } catch {
      // already gone (renamed or never made)
    }
  };
  const sync = options.sync ?? true;
  /** After the flush: closed and renamed over `dest`. */
  const publish = (dest: string) => {
    close();
    renameSync(path, dest);
  };
  return {
    path,
    fd,
    discard,
    commit(dest = target) {
      try {
        if (sync) fsyncSync(fd);
        publish(dest);
      } catch (err) {
        discard();
        throw err;
      }
    },
    async commitAsync(dest = target) {
      try {
        if (sync) await new Promise<void>((ok, fail) => fsync(fd, (err) => (err ? fail(err) : ok())));
        close();
        // On the thread pool too: ext4 starts writing a file's data back when a rename replaces
        // an older one (auto_da_alloc), flushed or not (1–3 ms here).
        await rename(path, dest);
      } catch (err) {
        discard();
        throw err;
      }
    },
  };
}

/** Writes every byte of `buf` at the fd's current position. */
export function writeAllSync(fd: number, buf: Uint8Array): void {
  let off = 0;
  while (off < buf.byteLength) off += writeSync(fd, buf, off, buf.byteLength - off);
}

export interface AtomicWriteOptions extends TempOptions {
  /** chown the file before it appears (files made for an experiment's user). */
  owner?: Owner;
  /** Make the parent directories first (default true). */
  mkdir?: boolean;
}

/** The temp file of an atomic write, filled and owned, ready to commit. */
function filledTemp(path: string, data: Uint8Array | string, options: AtomicWriteOptions): TempFile {
  if (options.mkdir ?? true) mkdirSync(dirname(path), { recursive: true });
  const temp = openTemp(path, options);
  try {
    writeAllSync(temp.fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    if (options.owner) fchownSync(temp.fd, options.owner.uid, options.owner.gid);
  } catch (err) {
    temp.discard();
    throw err;
  }
  return temp;
}

/** Replaces `path` with `data` atomically (see the header). */
export function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  options: AtomicWriteOptions = {},
): void {
  filledTemp(path, data, options).commit();
}

/**
 * writeFileAtomic whose flush waits on the thread pool, not the event loop: for writes a
 * busy host makes often (a session's notebook on every cell change).
 */
export function writeFileAtomicAsync(
  path: string,
  data: Uint8Array | string,
  options: AtomicWriteOptions = {},
): Promise<void> {
  return filledTemp(path, data, options).commitAsync();
}

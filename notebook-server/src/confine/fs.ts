// Host-side file operations inside a directory that untrusted code can also
// write (an experiment volume, a session's work dir, the inbox). The host never
// follows a link there (walk.ts): chown is fchown on a no-follow descriptor,
// never recursive; writes go to a fresh temp name then rename, which replaces a
// planted link instead of writing through it; reads use the no-follow descriptor.
import { closeSync, fchownSync, fstatSync, openSync, readSync, type Stats, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.ts';
import { confineRelative, PathError, type RelativeOptions } from './relative.ts';
import {
  fdPath,
  type InsideOptions,
  O_NOFOLLOW,
  O_NONBLOCK,
  O_RDONLY,
  type Owner,
  openDirs,
  openRoot,
  refuse,
  split,
} from './walk.ts';

export interface OpenedFile {
  fd: number;
  /** Normalised path relative to the root. */
  rel: string;
  /** A path that names exactly this open file (for libraries that want a path). */
  pinned: string;
  stat: Stats;
}

/**
 * Runs `fn` with a regular file inside root opened for reading (no link
 * followed anywhere on the path); the descriptor is closed afterwards.
 */
export async function withFileInside<T>(
  root: string,
  input: string,
  options: RelativeOptions,
  fn: (file: OpenedFile) => Promise<T> | T,
): Promise<T> {
  const file = openFileInside(root, input, options);
  try {
    return await fn(file);
  } finally {
    closeSync(file.fd);
  }
}

/** Opens whatever is at a path inside root, read-only and without following a link; the caller closes `fd`. */
function openNoFollow(root: string, input: string, options: RelativeOptions): { fd: number; rel: string } {
  const { rel, dirs, name } = split(input, options);
  const dir = openDirs(root, dirs, input, options, false);
  try {
    // O_NONBLOCK: a planted FIFO must not hang the host; regular files ignore it.
    return { fd: openSync(fdPath(dir, name), O_RDONLY | O_NOFOLLOW | O_NONBLOCK), rel };
  } catch (err) {
    refuse(err, input, rel, options);
  } finally {
    closeSync(dir);
  }
}

/** Opens a regular file inside root for reading; the caller closes `fd`. */
export function openFileInside(root: string, input: string, options: RelativeOptions = {}): OpenedFile {
  const { fd, rel } = openNoFollow(root, input, options);
  const stat = fstatSync(fd);
  if (!stat.isFile()) {
    closeSync(fd);
    throw new PathError(
      'not_a_file',
      `${options.what ?? 'path'} "${input}" is not a regular file (${stat.isDirectory() ? 'a directory' : 'a special file'})`,
    );
  }
  return { fd, rel, pinned: fdPath(fd), stat };
}

/** Reads a whole regular file inside root. */
export function readInside(root: string, input: string, options: RelativeOptions = {}): Buffer {
  const file = openFileInside(root, input, options);
  try {
    const out = Buffer.alloc(file.stat.size);
    let off = 0;
    while (off < out.length) {
      const n = readSync(file.fd, out, off, out.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return out.subarray(0, off);
  } finally {
    closeSync(file.fd);
  }
}

/**
 * Writes `data` to a file inside root: parent directories are made without
 * following links, the bytes go to a fresh temp file (O_EXCL|O_NOFOLLOW) in
 * the pinned parent, which is then renamed over the target. A link planted at
 * the target or at any temp name is replaced or refused, never written through.
 */
export function writeInside(
  root: string,
  input: string,
  data: Uint8Array | string,
  options: InsideOptions & { mode?: number } = {},
): { rel: string; path: string } {
  const { rel, dirs, name } = split(input, options);
  const dir = openDirs(root, dirs, input, options, true);
  try {
    try {
      writeFileAtomic(fdPath(dir, name), data, {
        mode: options.mode,
        owner: options.owner,
        sync: false,
        mkdir: false,
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EISDIR') {
        throw new PathError('not_a_file', `${options.what ?? 'path'} "${input}" is a directory`);
      }
      throw err;
    }
    return { rel, path: join(root, rel) };
  } finally {
    closeSync(dir);
  }
}

/**
 * Runs `fn` with a directory inside root (made if missing, no link followed)
 * given as a pinned path: files `fn` writes under that path stay in it.
 */
export async function withDirInside<T>(
  root: string,
  input: string,
  options: InsideOptions & { create?: boolean },
  fn: (pinned: string, rel: string) => Promise<T> | T,
): Promise<T> {
  const { dir, rel } = openDirInside(root, input, options);
  try {
    return await fn(fdPath(dir), rel);
  } finally {
    closeSync(dir);
  }
}

/** The directory `input` inside root, opened (made if missing with `create`) with no link followed. */
function openDirInside(root: string, input: string, options: InsideOptions & { create?: boolean }) {
  const rel = confineRelative(input, { ...options, allowRoot: true });
  const dir = openDirs(root, rel === '.' ? [] : rel.split('/'), input, options, options.create ?? false);
  return { dir, rel };
}

/**
 * Runs `fn` (synchronously) with a directory inside root (made if missing, no link followed) as a
 * pinned path, like withDirInside: a link planted on the way is refused, and files `fn` names
 * under the pinned path stay in that directory.
 */
export function inDirInside<T>(
  root: string,
  input: string,
  options: InsideOptions & { create?: boolean },
  fn: (pinned: string) => T,
): T {
  const { dir } = openDirInside(root, input, options);
  try {
    return fn(fdPath(dir));
  } finally {
    closeSync(dir);
  }
}

/** mkdir -p inside root without following links; returns the normalised path. */
export function mkdirInside(root: string, input: string, options: InsideOptions = {}): string {
  const rel = confineRelative(input, options);
  closeSync(openDirs(root, rel.split('/'), input, options, true));
  return rel;
}

/**
 * chown of one file or directory inside root (or of root itself with "."),
 * through a no-follow descriptor: a link is refused, never chowned through,
 * and nothing below is touched.
 */
export function chownInside(root: string, input: string, owner: Owner, options: RelativeOptions = {}): void {
  const rel = confineRelative(input, { ...options, allowRoot: true });
  if (rel === '.') {
    const fd = openRoot(root);
    try {
      fchownSync(fd, owner.uid, owner.gid);
    } finally {
      closeSync(fd);
    }
    return;
  }
  const parts = rel.split('/');
  const name = parts.pop() as string;
  const dir = openDirs(root, parts, input, options, false);
  let fd: number;
  try {
    fd = openSync(fdPath(dir, name), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    refuse(err, input, rel, options);
  } finally {
    closeSync(dir);
  }
  try {
    fchownSync(fd, owner.uid, owner.gid);
  } finally {
    closeSync(fd);
  }
}

/** Removes one entry inside root (a link is removed, not followed); false when it was not there. */
export function unlinkInside(root: string, input: string, options: RelativeOptions = {}): boolean {
  const { rel, dirs, name } = split(input, options);
  let dir: number;
  try {
    dir = openDirs(root, dirs, input, options, false);
  } catch (err) {
    if (err instanceof PathError && err.code === 'not_found') return false;
    throw err;
  }
  try {
    unlinkSync(fdPath(dir, name));
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return false;
    if (code === 'EISDIR' || code === 'EPERM') {
      throw new PathError('not_a_file', `${options.what ?? 'path'} "${rel}" is a directory, not a file`);
    }
    throw err;
  } finally {
    closeSync(dir);
  }
}

/** What is at a path inside root, without following links; null when nothing is. */
export function kindInside(
  root: string,
  input: string,
  options: RelativeOptions = {},
): 'file' | 'directory' | 'other' | null {
  try {
    return withDirKind(root, input, options);
  } catch (err) {
    if (err instanceof PathError && err.code === 'not_found') return null;
    throw err;
  }
}

function withDirKind(root: string, input: string, options: RelativeOptions): 'file' | 'directory' | 'other' {
  const { fd } = openNoFollow(root, input, options);
  try {
    const st = fstatSync(fd);
    return st.isFile() ? 'file' : st.isDirectory() ? 'directory' : 'other';
  } finally {
    closeSync(fd);
  }
}

// Host-side file operations inside a directory that untrusted code can also
// write (an experiment volume, a session's work dir). The host never follows a
// link there: each path component is opened relative to the directory opened
// before it (through /proc/self/fd/N, Linux's openat for Node), with
// O_NOFOLLOW, so a link planted anywhere on the path, even while we walk it,
// makes the operation fail instead of leading out. chown is fchown on such a
// descriptor, never recursive; writes go to a fresh temp name then rename,
// which replaces a planted link instead of writing through it.
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fchownSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  type Stats,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { confineRelative, PathError, type RelativeOptions } from './relative.ts';

// libuv opens every descriptor with O_CLOEXEC, so none leaks into the processes we spawn.
const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = constants;

export interface Owner {
  uid: number;
  gid: number;
}

export interface InsideOptions extends RelativeOptions {
  /** Owner of directories and files this call creates (and of a file it writes). */
  owner?: Owner;
}

/** The path of `name` in the directory open as `fd`: resolves through that exact directory. */
export const fdPath = (fd: number, name?: string): string =>
  name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`;

function refuse(err: unknown, input: string, upto: string, options: RelativeOptions): never {
  const what = options.what ?? 'path';
  const where = options.where ?? options.mount ?? 'the work dir';
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ELOOP' || code === 'EMLINK') {
    throw new PathError(
      'symlink',
      `${what} "${input}": "${upto}" is a symbolic link, and the host never follows links in ${where}; remove the link or use a real file`,
      { cause: err },
    );
  }
  if (code === 'ENOTDIR') {
    throw new PathError('invalid_path', `${what} "${input}": "${upto}" is not a directory`, { cause: err });
  }
  if (code === 'ENOENT') {
    throw new PathError('not_found', `${what} "${input}": no "${upto}" in ${where}`, { cause: err });
  }
  throw err;
}

/** Whether `name` in the directory open as `fd` is a symbolic link (lstat never follows it). */
function isLink(fd: number, name: string): boolean {
  try {
    return lstatSync(fdPath(fd, name)).isSymbolicLink();
  } catch {
    return false;
  }
}

function openRoot(root: string, options: RelativeOptions = {}): number {
  try {
    return openSync(root, O_RDONLY | O_DIRECTORY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    throw new PathError('not_found', `${options.where ?? root} does not exist`, { cause: err });
  }
}

/**
 * Opens the directory `parts` under root, one component at a time, never
 * following a link; with `create`, missing components are made (owned by
 * `owner`). The caller closes the returned descriptor.
 */
function openDirs(
  root: string,
  parts: string[],
  input: string,
  options: InsideOptions,
  create: boolean,
): number {
  let fd = openRoot(root, options);
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    let created = false;
    if (create) {
      try {
        mkdirSync(fdPath(fd, part), { mode: 0o755 });
        created = true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          closeSync(fd);
          refuse(err, input, parts.slice(0, i + 1).join('/'), options);
        }
      }
    }
    let next: number;
    try {
      next = openSync(fdPath(fd, part), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    } catch (err) {
      const link = isLink(fd, part);
      closeSync(fd);
      refuse(
        link ? Object.assign(new Error('link'), { code: 'ELOOP' }) : err,
        input,
        parts.slice(0, i + 1).join('/'),
        options,
      );
    }
    closeSync(fd);
    if (created && options.owner) fchownSync(next, options.owner.uid, options.owner.gid);
    fd = next;
  }
  return fd;
}

function split(input: string, options: RelativeOptions): { rel: string; dirs: string[]; name: string } {
  const rel = confineRelative(input, options);
  const parts = rel.split('/');
  const name = parts.pop() as string;
  return { rel, dirs: parts, name };
}

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

/** Opens a regular file inside root for reading; the caller closes `fd`. */
export function openFileInside(root: string, input: string, options: RelativeOptions = {}): OpenedFile {
  const { rel, dirs, name } = split(input, options);
  const dir = openDirs(root, dirs, input, options, false);
  let fd: number;
  try {
    // O_NONBLOCK: a planted FIFO must not hang the host; regular files ignore it.
    fd = openSync(fdPath(dir, name), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    refuse(err, input, rel, options);
  } finally {
    closeSync(dir);
  }
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

/** sha256 and size of a regular file inside root, read through a no-follow descriptor. */
export function hashInside(root: string, input: string, options: RelativeOptions = {}) {
  const file = openFileInside(root, input, options);
  try {
    const hash = createHash('sha256');
    const buf = Buffer.alloc(1 << 20);
    let bytes = 0;
    for (;;) {
      const n = readSync(file.fd, buf, 0, buf.length, bytes);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      bytes += n;
    }
    return { rel: file.rel, sha256: hash.digest('hex'), bytes };
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
    const tmp = `.${name.slice(0, 100)}.${randomBytes(6).toString('hex')}.peragus-tmp`;
    const fd = openSync(fdPath(dir, tmp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, options.mode ?? 0o644);
    try {
      const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      let off = 0;
      while (off < buf.byteLength) off += writeSync(fd, buf, off, buf.byteLength - off);
      if (options.owner) fchownSync(fd, options.owner.uid, options.owner.gid);
    } catch (err) {
      closeSync(fd);
      unlinkSync(fdPath(dir, tmp));
      throw err;
    }
    closeSync(fd);
    try {
      renameSync(fdPath(dir, tmp), fdPath(dir, name));
    } catch (err) {
      unlinkSync(fdPath(dir, tmp));
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
  const rel = confineRelative(input, { ...options, allowRoot: true });
  const dir = openDirs(root, rel === '.' ? [] : rel.split('/'), input, options, options.create ?? false);
  try {
    return await fn(fdPath(dir), rel);
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
  const { rel, dirs, name } = split(input, options);
  const dir = openDirs(root, dirs, input, options, false);
  let fd: number;
  try {
    fd = openSync(fdPath(dir, name), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    refuse(err, input, rel, options);
  } finally {
    closeSync(dir);
  }
  try {
    const st = fstatSync(fd);
    return st.isFile() ? 'file' : st.isDirectory() ? 'directory' : 'other';
  } finally {
    closeSync(fd);
  }
}

/**
 * Copies a regular file inside root to a host path outside it (written beside
 * the destination and renamed): the source is read through a no-follow
 * descriptor, so a link in the volume never makes the host copy its target.
 */
export function copyOutOf(
  root: string,
  input: string,
  dest: string,
  options: RelativeOptions = {},
): { rel: string; sha256: string; bytes: number } {
  const file = openFileInside(root, input, options);
  const partial = `${dest}.partial-${randomBytes(4).toString('hex')}`;
  try {
    const out = openSync(partial, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644);
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      const buf = Buffer.alloc(1 << 20);
      for (;;) {
        const n = readSync(file.fd, buf, 0, buf.length, bytes);
        if (n === 0) break;
        hash.update(buf.subarray(0, n));
        let off = 0;
        while (off < n) off += writeSync(out, buf, off, n - off);
        bytes += n;
      }
    } finally {
      closeSync(out);
    }
    renameSync(partial, dest);
    return { rel: file.rel, sha256: hash.digest('hex'), bytes };
  } catch (err) {
    try {
      unlinkSync(partial);
    } catch {
      // never made
    }
    throw err;
  } finally {
    closeSync(file.fd);
  }
}

/** Linux's O_PATH (not in fs.constants): a descriptor of the inode itself, e.g. a socket. */
const O_PATH = 0o10000000;

/**
 * Pins a Unix socket inside root for connect(): `pinned` names that exact
 * socket inode, so a link planted at the socket's path (to another
 * experiment's node, or the Docker socket) is refused, not connected to. The
 * caller closes `fd` once connected.
 */
export function openSocketInside(
  root: string,
  input: string,
  options: RelativeOptions = {},
): { fd: number; pinned: string } {
  const { rel, dirs, name } = split(input, options);
  const dir = openDirs(root, dirs, input, options, false);
  let fd: number;
  try {
    fd = openSync(fdPath(dir, name), O_PATH | O_NOFOLLOW);
  } catch (err) {
    refuse(err, input, rel, options);
  } finally {
    closeSync(dir);
  }
  const st = fstatSync(fd);
  if (!st.isSocket()) {
    closeSync(fd);
    if (st.isSymbolicLink()) refuse(Object.assign(new Error('link'), { code: 'ELOOP' }), input, rel, options);
    throw new PathError('not_a_file', `${options.what ?? 'path'} "${input}" is not a socket`);
  }
  return { fd, pinned: fdPath(fd) };
}

// The walk under every confined operation: each component of a path under a
// root is opened relative to the directory opened before it (through
// /proc/self/fd/N, Linux's openat for Node) with O_NOFOLLOW, so a link planted
// anywhere on the path, even while we walk it, fails the walk instead of
// leading out.
import { closeSync, constants, fchownSync, lstatSync, mkdirSync, openSync } from 'node:fs';
import { confineRelative, PathError, type RelativeOptions } from './relative.ts';

// libuv opens every descriptor with O_CLOEXEC, so none leaks into the processes we spawn.
export const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = constants;

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

export function refuse(err: unknown, input: string, upto: string, options: RelativeOptions): never {
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
export function isLink(fd: number, name: string): boolean {
  try {
    return lstatSync(fdPath(fd, name)).isSymbolicLink();
  } catch {
    return false;
  }
}

export function openRoot(root: string, options: RelativeOptions = {}, input?: string): number {
  try {
    return openSync(root, O_RDONLY | O_DIRECTORY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const where = options.where ?? root;
    const message =
      input === undefined
        ? `${where} does not exist`
        : `${options.what ?? 'path'} "${input}": no "${input}" in ${where} (it does not exist yet)`;
    throw new PathError('not_found', message, { cause: err });
  }
}

/**
 * Opens the directory `parts` under root, one component at a time, never
 * following a link; with `create`, missing components are made (owned by
 * `owner`). The caller closes the returned descriptor.
 */
export function openDirs(
  root: string,
  parts: string[],
  input: string,
  options: InsideOptions,
  create: boolean,
): number {
  let fd = openRoot(root, options, input);
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

export function split(
  input: string,
  options: RelativeOptions,
): { rel: string; dirs: string[]; name: string } {
  const rel = confineRelative(input, options);
  const parts = rel.split('/');
  const name = parts.pop() as string;
  return { rel, dirs: parts, name };
}

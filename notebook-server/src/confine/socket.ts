// Connecting to a Unix socket that lives in an untrusted directory (a node
// role's endpoint in its experiment volume) without following a link there.
import { closeSync, fstatSync, openSync } from 'node:fs';
import { PathError, type RelativeOptions } from './relative.ts';
import { fdPath, O_NOFOLLOW, openDirs, refuse, split } from './walk.ts';

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

// Reading a file out of an untrusted directory: hashing it, or copying it to a
// host path outside (written beside the destination and renamed), always
// through a no-follow descriptor (fs.ts), so a link never makes the host read
// its target.
import { createHash } from 'node:crypto';
import { closeSync, readSync } from 'node:fs';
import { openTemp, writeAllSync } from './atomic.ts';
import { openFileInside } from './fs.ts';
import type { RelativeOptions } from './relative.ts';

// One read buffer for every copy, made at first use (not in the node role's startup snapshot):
// readHashed is synchronous and hands out only the bytes just read. A fresh zeroed megabyte per
// file cost ≈ 0.5 ms (its pages) on each of an experiment's copies.
let chunk: Buffer | undefined;

/** Reads `fd` from the start to the end, hashing each chunk and handing it to `each`. */
function readHashed(fd: number, each?: (chunk: Buffer) => void): { sha256: string; bytes: number } {
  const hash = createHash('sha256');
  chunk ??= Buffer.allocUnsafe(1 << 20);
  const buf = chunk;
  let bytes = 0;
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, bytes);
    if (n === 0) break;
    hash.update(buf.subarray(0, n));
    each?.(buf.subarray(0, n));
    bytes += n;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** sha256 and size of a regular file inside root, read through a no-follow descriptor. */
export function hashInside(root: string, input: string, options: RelativeOptions = {}) {
  const file = openFileInside(root, input, options);
  try {
    return { rel: file.rel, ...readHashed(file.fd) };
  } finally {
    closeSync(file.fd);
  }
}

/**
 * Copies a regular file inside root to a host path outside it (written beside
 * the destination and renamed, atomic.ts): the source is read through a
 * no-follow descriptor, so a link in the volume never makes the host copy its target.
 */
export function copyOutOf(
  root: string,
  input: string,
  dest: string,
  options: RelativeOptions = {},
): { rel: string; sha256: string; bytes: number } {
  const file = openFileInside(root, input, options);
  try {
    const temp = openTemp(dest, { sync: false });
    let digest: { sha256: string; bytes: number };
    try {
      digest = readHashed(file.fd, (chunk) => writeAllSync(temp.fd, chunk));
    } catch (err) {
      temp.discard();
      throw err;
    }
    temp.commit();
    return { rel: file.rel, ...digest };
  } finally {
    closeSync(file.fd);
  }
}

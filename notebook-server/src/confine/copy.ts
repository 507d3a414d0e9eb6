// Reading a file out of an untrusted directory: hashing it, or copying it to a
// host path outside (written beside the destination and renamed), always
// through a no-follow descriptor (fs.ts), so a link never makes the host read
// its target.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { openFileInside } from './fs.ts';
import type { RelativeOptions } from './relative.ts';
import { O_CREAT, O_EXCL, O_NOFOLLOW, O_WRONLY } from './walk.ts';

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

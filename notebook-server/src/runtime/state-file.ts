// Small state files (plan state, container records, seq reservations):
// written to a temp file beside the target and renamed over it, so a crash
// leaves the old or the new content; a failed write (ENOSPC, EIO) removes
// its temp file and leaves the old content in place.
//
// A state change must still land when the disk is full (a plan marked
// finished, not left "running"): with `inPlaceWhenFull`, a write refused for
// lack of space overwrites the old file in place when the new text fits in
// it (JSON padded with trailing spaces, which parsers ignore). Files written
// with `slack` keep that much room for such changes.
import { closeSync, fstatSync, fsyncSync, openSync } from 'node:fs';
import { writeAllSync, writeFileAtomic } from '../confine/atomic.ts';
import type { Owner } from '../confine/walk.ts';

export interface StateFileOptions {
  mode?: number;
  /** chown the file before it appears. */
  owner?: Owner;
  /** Trailing spaces kept after the text, room for a later in-place change. */
  slack?: number;
  /** On ENOSPC / EDQUOT, overwrite the old file in place when the text fits in it. */
  inPlaceWhenFull?: boolean;
  /** Flush before the rename (default true). */
  sync?: boolean;
}

export function writeStateFile(path: string, data: string | Buffer, options: StateFileOptions = {}): void {
  let buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  if (options.slack) buf = Buffer.concat([buf, Buffer.alloc(options.slack, 0x20)]);
  try {
    writeFileAtomic(path, buf, {
      mode: options.mode,
      ...(options.owner ? { owner: options.owner } : {}),
      ...(options.sync === false ? { sync: false } : {}),
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (options.inPlaceWhenFull && (code === 'ENOSPC' || code === 'EDQUOT') && overwriteInPlace(path, buf))
      return;
    throw err;
  }
}

/** Writes `buf` over the file's first bytes, padding the rest with spaces; false when it does not fit. */
function overwriteInPlace(path: string, buf: Buffer): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r+');
  } catch {
    return false;
  }
  try {
    const size = fstatSync(fd).size;
    const text = buf.toString('utf8').trimEnd();
    const bytes = Buffer.byteLength(text);
    if (bytes > size) return false;
    const padded = Buffer.alloc(size, 0x20);
    padded.write(text, 0, 'utf8');
    writeAllSync(fd, padded);
    fsyncSync(fd);
    return true;
  } finally {
    closeSync(fd);
  }
}

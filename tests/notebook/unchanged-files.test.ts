// confine/unchanged.ts: a save skips a file only while it still holds what the writer last put
// there. Everything else a work dir's code can do to the file in between (edit it in place,
// replace it, delete it, swap in a symbolic link) makes the next save write it again, and the
// write never follows a link out of the directory.
import {
  lstatSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UnchangedFiles } from '../../notebook-server/src/confine/unchanged.ts';

const root = mkdtempSync(join(tmpdir(), 'peragus-unchanged-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function fresh(name: string) {
  const path = join(root, name);
  const files = new UnchangedFiles();
  expect(await files.write(path, 'first')).toBe(true);
  return { path, files, ino: statSync(path).ino };
}

describe('UnchangedFiles', () => {
  it('skips the same text and writes a changed one (a new inode: still an atomic replace)', async () => {
    const { path, files, ino } = await fresh('same.txt');
    expect(await files.write(path, 'first')).toBe(false);
    expect(statSync(path).ino).toBe(ino);
    expect(await files.write(path, 'second')).toBe(true);
    expect(statSync(path).ino).not.toBe(ino);
    expect(readFileSync(path, 'utf8')).toBe('second');
  });

  it('writes again a file edited in place to the same size, truncated or deleted', async () => {
    const { path, files } = await fresh('edited.txt');
    writeFileSync(path, 'FIRST');
    expect(await files.write(path, 'first')).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('first');
    truncateSync(path, 0);
    expect(await files.write(path, 'first')).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('first');
    rmSync(path);
    expect(await files.write(path, 'first')).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('first');
  });

  it('replaces a symbolic link swapped in for the file, without writing through it', async () => {
    const { path, files } = await fresh('linked.txt');
    const outside = join(root, 'outside.txt');
    writeFileSync(outside, 'first');
    rmSync(path);
    symlinkSync(outside, path);
    expect(await files.write(path, 'first')).toBe(true);
    expect(lstatSync(path).isSymbolicLink()).toBe(false);
    expect(readFileSync(path, 'utf8')).toBe('first');
    // The link's target kept its own bytes and inode: the write went to the directory entry.
    writeFileSync(outside, 'untouched');
    expect(await files.write(path, 'first')).toBe(false);
    expect(readFileSync(outside, 'utf8')).toBe('untouched');
  });
});

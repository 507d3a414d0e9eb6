import { createHash } from 'node:crypto';
import { lstat, mkdtemp, readdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChecksumMismatchError } from '../../notebook-server/src/catalog/errors.ts';
import { ResultStore } from '../../notebook-server/src/catalog/store.ts';
import { tempDir, writeText } from './helpers.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('ResultStore', () => {
  let home: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ dir: home, cleanup } = await tempDir());
  });
  afterEach(() => cleanup());

  it('stores a file at store/sha256/ab/cdef… with its checksum and size', async () => {
    const store = new ResultStore(home);
    const src = await writeText(join(home, 'a.csv'), 'x,y\n1,2\n');
    const blob = await store.put(src, { expectedSha256: sha('x,y\n1,2\n') });
    expect(blob.sha256).toBe(sha('x,y\n1,2\n'));
    expect(blob.bytes).toBe(8);
    expect(blob.created).toBe(true);
    expect(blob.path).toBe(join(home, 'store', 'sha256', blob.sha256.slice(0, 2), blob.sha256.slice(2)));
    expect(await readFile(blob.path, 'utf8')).toBe('x,y\n1,2\n');
    // Read-only once stored, so nothing edits a blob behind its address.
    expect((await stat(blob.path)).mode & 0o222).toBe(0);
    expect(await store.verify(blob.sha256)).toBe(true);
    expect(await readdir(join(home, 'store', 'tmp'))).toEqual([]);
  });

  it('is idempotent for the same content (files, streams and bytes)', async () => {
    const store = new ResultStore(home);
    const a = await store.put(await writeText(join(home, 'a'), 'same'));
    const b = await store.put(Readable.from([Buffer.from('sa'), Buffer.from('me')]));
    const c = await store.put(Buffer.from('same'), { expectedSha256: sha('same').toUpperCase() });
    expect(b.path).toBe(a.path);
    expect(c.path).toBe(a.path);
    expect([a.created, b.created, c.created]).toEqual([true, false, false]);
    const fanout = await readdir(join(home, 'store', 'sha256'));
    expect(fanout).toEqual([a.sha256.slice(0, 2)]);
  });

  it('refuses a checksum mismatch and stores nothing', async () => {
    const store = new ResultStore(home);
    const src = await writeText(join(home, 'a'), 'content');
    const wrong = sha('other');
    const err = await store.put(src, { expectedSha256: wrong }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect((err as Error).message).toContain(`expected sha256 ${wrong}`);
    expect((err as Error).message).toContain(sha('content'));
    expect(await store.has(sha('content'))).toBe(false);
    expect(await readdir(join(home, 'store', 'tmp'))).toEqual([]);
    await expect(store.put(src, { expectedBytes: 3 })).rejects.toThrow(/size mismatch/);
    expect(await store.has(sha('content'))).toBe(false);
    await expect(store.put(src, { expectedSha256: 'not-hex' })).rejects.toThrow(/64 hex digits/);
  });

  it('adopts a file the host made by linking it (no copy, no new inode), and only a regular file', async () => {
    const store = new ResultStore(home);
    const src = await writeText(join(home, 'runs.parquet'), 'rows');
    const blob = await store.put(src, { expectedSha256: sha('rows'), adopt: true });
    expect(blob).toMatchObject({ sha256: sha('rows'), bytes: 4, created: true });
    // One inode, now read-only under both names.
    expect((await stat(blob.path)).ino).toBe((await stat(src)).ino);
    expect((await stat(src)).mode & 0o222).toBe(0);
    expect(await readdir(join(home, 'store', 'tmp'))).toEqual([]);
    // The same content again: nothing changes, the temp link is gone.
    const again = await store.put(await writeText(join(home, 'copy'), 'rows'), { adopt: true });
    expect(again).toMatchObject({ path: blob.path, created: false });
    expect((await stat(join(home, 'copy'))).nlink).toBe(1);

    // A symbolic link is not adopted (the link itself would be stored): its target is copied.
    const target = await writeText(join(home, 'target'), 'linked');
    await symlink(target, join(home, 'link'));
    const viaLink = await store.put(join(home, 'link'), { adopt: true });
    expect(await readFile(viaLink.path, 'utf8')).toBe('linked');
    expect((await lstat(viaLink.path)).isFile()).toBe(true);
    expect((await stat(viaLink.path)).ino).not.toBe((await stat(target)).ino);

    // A wrong checksum refuses the file and leaves no link behind.
    const bad = await writeText(join(home, 'bad'), 'bad');
    await expect(store.put(bad, { expectedSha256: sha('good'), adopt: true })).rejects.toThrow(
      ChecksumMismatchError,
    );
    expect(await store.has(sha('bad'))).toBe(false);
    expect((await stat(bad)).nlink).toBe(1);
    expect(await readdir(join(home, 'store', 'tmp'))).toEqual([]);
  });

  it('copies an adopted file from another file system', async () => {
    const shm = await mkdtemp('/dev/shm/peragus-adopt-');
    try {
      const store = new ResultStore(home);
      const src = await writeText(join(shm, 'a'), 'elsewhere');
      const blob = await store.put(src, { adopt: true });
      expect(await readFile(blob.path, 'utf8')).toBe('elsewhere');
      expect((await stat(src)).nlink).toBe(1);
    } finally {
      await rm(shm, { recursive: true, force: true });
    }
  });

  it('verify detects a missing blob', async () => {
    const store = new ResultStore(home);
    expect(await store.verify(sha('nothing'))).toBe(false);
    expect(await store.stat(sha('nothing'))).toBeUndefined();
  });
});

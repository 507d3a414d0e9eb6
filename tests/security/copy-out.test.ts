// Copies out of a volume share one read buffer (confine/copy.ts): a file copied after a larger
// one must come out with exactly its own bytes and hash, never a tail of the earlier file, and a
// file larger than the buffer must come out whole.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { copyOutOf, hashInside } from '../../notebook-server/src/confine/copy.ts';

const dir = mkdtempSync(join(tmpdir(), 'peragus-copy-out-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('copying files out of a volume', () => {
  it('gives each file its own bytes, whatever was copied before it', () => {
    const volume = join(dir, 'volume');
    const out = join(dir, 'out');
    mkdirSync(volume);
    mkdirSync(out);
    const files: [string, Buffer][] = [
      ['large.bin', randomBytes(2.5 * 1024 * 1024)], // more than one read
      ['small.txt', Buffer.from('a few bytes\n')],
      ['empty.txt', Buffer.alloc(0)],
      ['medium.bin', randomBytes(300_000)],
      ['small-again.txt', Buffer.from('x')],
    ];
    for (const [name, bytes] of files) writeFileSync(join(volume, name), bytes);
    for (const [name, bytes] of files) {
      const copied = copyOutOf(volume, name, join(out, name));
      expect(copied).toEqual({ rel: name, sha256: sha(bytes), bytes: bytes.length });
      expect(readFileSync(join(out, name)).equals(bytes)).toBe(true);
      expect(hashInside(volume, name)).toEqual({ rel: name, sha256: sha(bytes), bytes: bytes.length });
    }
  });
});

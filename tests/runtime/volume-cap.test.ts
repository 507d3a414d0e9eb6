// The experiment volume's size cap (runtime/volume-cap.ts) on its own: concurrent creates of one
// experiment (a race only one wins) must leave its work dir mounted once, and the release must
// leave nothing mounted, the files back in the plain work dir. Needs root (mount) and mkfs.ext4.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { capVolume, isMountPoint, releaseVolume } from '../../notebook-server/src/runtime/volume-cap.ts';

const root = process.getuid?.() === 0;
if (!root && process.env.CI) throw new Error('the volume cap tests must run in CI, as root');
const home = mkdtempSync(join(tmpdir(), 'peragus-volcap-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

const mountsAt = (dir: string) =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.split(' ')[4] === dir).length;

describe.skipIf(!root)('volume cap', () => {
  it('three concurrent caps of one work dir mount it once; the release unmounts it and keeps the files', async () => {
    const exp = join(home, 'race');
    const work = join(exp, 'work');
    mkdirSync(work, { recursive: true });
    const caps = await Promise.all([1, 2, 3].map(() => capVolume(exp, work, 64 * 2 ** 20)));
    expect(caps.map((c) => c.capped)).toEqual([true, true, true]);
    expect(mountsAt(work)).toBe(1);
    writeFileSync(join(work, 'result.txt'), 'kept');
    await Promise.all([releaseVolume(work), releaseVolume(work)]);
    expect(mountsAt(work)).toBe(0);
    expect(isMountPoint(work)).toBe(false);
    expect(readFileSync(join(work, 'result.txt'), 'utf8')).toBe('kept');
    // A re-created container of the experiment gets a fresh cap holding the files.
    expect((await capVolume(exp, work, 64 * 2 ** 20)).capped).toBe(true);
    expect(readFileSync(join(work, 'result.txt'), 'utf8')).toBe('kept');
    await releaseVolume(work);
    expect(mountsAt(work)).toBe(0);
    rmSync(exp, { recursive: true }); // nothing left busy
  });
});

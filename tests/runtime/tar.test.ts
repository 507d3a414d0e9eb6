import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { packTar, readTar, type TarHeader } from '../../notebook-server/src/runtime/tar.ts';

const scratch = mkdtempSync(join(tmpdir(), 'peragus-tar-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function entries(archive: Buffer, chunk = 777): Promise<{ header: TarHeader; data: Buffer }[]> {
  // Feed odd-sized chunks so block boundaries never line up with reads.
  const pieces: Buffer[] = [];
  for (let i = 0; i < archive.length; i += chunk) pieces.push(archive.subarray(i, i + chunk));
  const out: { header: TarHeader; data: Buffer }[] = [];
  for await (const e of readTar(Readable.from(pieces))) {
    const parts: Buffer[] = [];
    for await (const p of e.body) parts.push(p);
    out.push({ header: e.header, data: Buffer.concat(parts) });
  }
  return out;
}

describe('tar codec', () => {
  const longName = `${'deep/'.repeat(30)}file-with-a-long-name.parquet`;
  const payload = randomBytes(70_001);

  it('round-trips directories, files, streamed bodies and long (pax) names', async () => {
    const archive = await collect(
      packTar([
        { name: 'data', type: 'directory', mode: 0o755, uid: 10001, gid: 10001 },
        {
          name: 'data/a.txt',
          type: 'file',
          mode: 0o644,
          uid: 10001,
          gid: 10001,
          size: 5,
          body: Buffer.from('hello'),
        },
        {
          name: longName,
          type: 'file',
          mode: 0o600,
          uid: 1,
          gid: 2,
          size: payload.length,
          body: Readable.from([payload.subarray(0, 1000), payload.subarray(1000)]),
        },
        { name: 'empty', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, body: Buffer.alloc(0) },
      ]),
    );
    expect(archive.length % 512).toBe(0);
    const got = await entries(archive);
    expect(got.map((e) => [e.header.name, e.header.type, e.header.size])).toEqual([
      ['data/', 'directory', 0],
      ['data/a.txt', 'file', 5],
      [longName, 'file', payload.length],
      ['empty', 'file', 0],
    ]);
    expect(got[1]!.data.toString()).toBe('hello');
    expect(got[2]!.data.equals(payload)).toBe(true);
    expect(got[2]!.header).toMatchObject({ mode: 0o600, uid: 1, gid: 2 });
  });

  it('writes archives GNU tar reads, and reads archives GNU tar writes', async () => {
    const file = join(scratch, 'ours.tar');
    writeFileSync(
      file,
      await collect(
        packTar([
          { name: longName, type: 'file', mode: 0o644, uid: 0, gid: 0, size: payload.length, body: payload },
        ]),
      ),
    );
    const out = join(scratch, 'gnu-out');
    mkdirSync(out);
    execFileSync('tar', ['-xf', file, '-C', out]);
    expect(readFileSync(join(out, longName)).equals(payload)).toBe(true);

    const src = join(scratch, 'gnu-src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'sub', `${'n'.repeat(150)}.bin`), payload);
    for (const format of ['gnu', 'posix', 'ustar']) {
      const name = format === 'ustar' ? 'short.bin' : `${'n'.repeat(150)}.bin`;
      if (format === 'ustar') writeFileSync(join(src, 'sub', name), payload);
      const theirs = execFileSync('tar', ['-c', `--format=${format}`, '-C', src, `sub/${name}`], {
        maxBuffer: 10 * 2 ** 20,
      });
      const got = await entries(theirs, 4096);
      expect(got).toHaveLength(1);
      expect(got[0]!.header.name).toBe(`sub/${name}`);
      expect(got[0]!.data.equals(payload)).toBe(true);
    }
  });

  it('skips bodies the consumer does not read', async () => {
    const archive = await collect(
      packTar([
        { name: 'a', type: 'file', mode: 0o644, uid: 0, gid: 0, size: payload.length, body: payload },
        { name: 'b', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 3, body: Buffer.from('xyz') },
      ]),
    );
    const names: string[] = [];
    let last = '';
    for await (const e of readTar(Readable.from([archive]))) {
      names.push(e.header.name);
      if (e.header.name === 'b') for await (const p of e.body) last += p.toString();
    }
    expect(names).toEqual(['a', 'b']);
    expect(last).toBe('xyz');
  });

  it('releases its source however the reading ends: early return, archive end, error', async () => {
    const archive = await collect(
      packTar([
        { name: 'a', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 3, body: Buffer.from('abc') },
        { name: 'b', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 3, body: Buffer.from('xyz') },
      ]),
    );
    // The archive's blocks arrive apart, as the Docker daemon sends them.
    const source = () => Readable.from([archive.subarray(0, 1024), archive.subarray(1024)]);

    const early = source();
    for await (const e of readTar(early)) {
      expect(e.header.name).toBe('a');
      break;
    }
    expect(early.destroyed).toBe(true);

    const whole = source();
    const names: string[] = [];
    for await (const e of readTar(whole)) names.push(e.header.name);
    expect(names).toEqual(['a', 'b']);
    expect(whole.destroyed).toBe(true);

    const broken = Readable.from([archive.subarray(0, 512), randomBytes(2048)]);
    await expect(
      (async () => {
        for await (const e of readTar(broken)) for await (const _ of e.body);
      })(),
    ).rejects.toThrow(/checksum/);
    expect(broken.destroyed).toBe(true);
  });

  it('rejects garbage and truncated archives', async () => {
    await expect(entries(randomBytes(1024))).rejects.toThrow(/checksum/);
    const archive = await collect(
      packTar([
        { name: 'a', type: 'file', mode: 0o644, uid: 0, gid: 0, size: payload.length, body: payload },
      ]),
    );
    await expect(entries(archive.subarray(0, 5000))).rejects.toThrow(/ends in the middle/);
  });

  it('refuses a body whose length differs from the declared size', async () => {
    const bad = packTar([
      { name: 'a', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 10, body: Buffer.from('abc') },
    ]);
    await expect(collect(bad)).rejects.toThrow(/3 bytes, 10 were declared/);
  });
});

import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBundle, encodeBundle } from '../../srcmd/src/bundle.ts';
import { readNotebookFiles, writeFileAtomic, writeNotebookFiles } from '../../srcmd/src/fs.ts';
import type { Notebook } from '../../srcmd/src/nbformat.ts';
import { notebookArb } from './arbitraries.ts';

describe('bundle: .src.md + .outputs.json', () => {
  it('decodeBundle∘encodeBundle is the identity, outputs and run metadata included', () => {
    fc.assert(
      fc.property(notebookArb(), (nb) => {
        const { srcmd, outputs } = encodeBundle(nb);
        expect(decodeBundle(srcmd, outputs)).toStrictEqual(nb);
      }),
      { numRuns: 400 },
    );
  });

  it('keeps run metadata beside the srcmd, not inside it', () => {
    const nb: Notebook = {
      title: 'Run',
      language: 'python',
      metadata: { image_digest: 'sha256:abc', seeds: [1, 2], srcbook: { extra: true } },
      cells: [
        {
          id: 'run',
          cell_type: 'code',
          filename: 'run.py',
          source: 'model.run()',
          execution_count: 3,
          outputs: [{ output_type: 'stream', name: 'stdout', text: 'ok\n' }],
          metadata: {},
        },
      ],
    };
    const { srcmd, outputs } = encodeBundle(nb);
    expect(srcmd).not.toContain('sha256:abc');
    expect(srcmd.split('\n')[0]).toBe('<!-- srcbook:{"language":"python","extra":true} -->');
    expect(JSON.parse(outputs)).toStrictEqual({
      format: 'peragus.outputs',
      version: 1,
      metadata: { image_digest: 'sha256:abc', seeds: [1, 2] },
      cells: [
        { id: 'run', execution_count: 3, outputs: [{ output_type: 'stream', name: 'stdout', text: 'ok\n' }] },
      ],
    });
    expect(decodeBundle(srcmd, outputs)).toStrictEqual(nb);
    expect(decodeBundle(srcmd).cells[0]).toMatchObject({ execution_count: null, outputs: [] });
  });
});

describe('fs helpers', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'srcmd-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('write then read gives the notebook back, with no temp files left', async () => {
    const samples = fc.sample(notebookArb({ safe: true }), { numRuns: 20, seed: 7 });
    for (const [i, nb] of samples.entries()) {
      const paths = await writeNotebookFiles(join(dir, 'nested'), `nb${i}`, nb);
      expect(paths.srcmd).toBe(join(dir, 'nested', `nb${i}.src.md`));
      expect(await readNotebookFiles(join(dir, 'nested'), `nb${i}`)).toStrictEqual(nb);
    }
    expect((await readdir(join(dir, 'nested'))).filter((f) => f.endsWith('.tmp'))).toStrictEqual([]);
  });

  it('reads a .src.md without an outputs file', async () => {
    const nb: Notebook = { title: 'Only inputs', language: 'python', cells: [], metadata: {} };
    await writeFile(join(dir, 'solo.src.md'), encodeBundle(nb).srcmd);
    expect(await readNotebookFiles(dir, 'solo')).toStrictEqual(nb);
  });

  it('leaves the old files untouched when encoding fails', async () => {
    const good: Notebook = { title: 'Good', language: 'python', cells: [], metadata: {} };
    await writeNotebookFiles(dir, 'keep', good);
    const md = (id: string) => ({ id, cell_type: 'markdown' as const, source: '', metadata: {} });
    const bad: Notebook = { ...good, cells: [md('a'), md('a')] };
    await expect(writeNotebookFiles(dir, 'keep', bad)).rejects.toThrow(/duplicate cell id/);
    expect(await readNotebookFiles(dir, 'keep')).toStrictEqual(good);
  });

  it('writeFileAtomic replaces the file and cleans up after a failed rename', async () => {
    const target = join(dir, 'atomic.txt');
    await writeFileAtomic(target, 'one');
    await writeFileAtomic(target, 'two');
    expect(await readFile(target, 'utf8')).toBe('two');
    // Renaming a file over a non-empty directory fails: the temp file must not stay behind.
    await writeFileAtomic(join(dir, 'adir', 'inner.txt'), 'x');
    await expect(writeFileAtomic(join(dir, 'adir'), 'y')).rejects.toThrow();
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toStrictEqual([]);
  });
});

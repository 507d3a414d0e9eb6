import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBundle, encodeBundle } from '../../srcmd/src/bundle.ts';
import { fromIpynb, importIpynb, toIpynb, toIpynbObject } from '../../srcmd/src/ipynb.ts';
import type { Notebook } from '../../srcmd/src/nbformat.ts';
import { notebookArb } from './arbitraries.ts';

const PYTHON = join(import.meta.dirname, '../../kernels/pysd/.venv/bin/python');
const FIXTURE = join(import.meta.dirname, 'fixtures/jupyter-teacup.ipynb');

// One Python process validates a list of notebooks with the real nbformat (strict:
// the raw dict, no repair), then checks nbformat.reads accepts the text as well.
const VALIDATE = `
import json, sys, nbformat
errors = []
for i, text in enumerate(json.load(sys.stdin)):
    try:
        nbformat.validate(json.loads(text), version=4, version_minor=5)
        nbformat.reads(text, as_version=4)
    except Exception as e:
        errors.append(f"{i}: {type(e).__name__}: {str(e)[:400]}")
print(json.dumps(errors))
`;

function validateWithNbformat(texts: string[]): string[] {
  const r = spawnSync(PYTHON, ['-c', VALIDATE], { input: JSON.stringify(texts), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as string[];
}

describe('ipynb export', () => {
  it.skipIf(!existsSync(PYTHON))('is accepted by nbformat.validate (generated notebooks)', () => {
    const samples = fc.sample(notebookArb(), { numRuns: 30, seed: 42 });
    const texts = samples.map(toIpynb);
    expect(validateWithNbformat(texts)).toStrictEqual([]);
    // The imported fixture, exported again, validates too.
    expect(validateWithNbformat([toIpynb(fromIpynb(readFileSync(FIXTURE, 'utf8')))])).toStrictEqual([]);
  });

  it('writes nbformat 4.5 with ids, Jupyter line lists and python kernel metadata', () => {
    const nb: Notebook = {
      title: 'T',
      language: 'python',
      metadata: { seeds: [1] },
      cells: [
        {
          id: 'c1',
          cell_type: 'code',
          filename: 'c1.py',
          source: 'a\nb',
          execution_count: 1,
          outputs: [{ output_type: 'stream', name: 'stdout', text: 'x\ny\n' }],
          metadata: {},
        },
      ],
    };
    const obj = toIpynbObject(nb) as {
      nbformat: number;
      nbformat_minor: number;
      metadata: Record<string, Record<string, unknown>>;
      cells: Record<string, unknown>[];
    };
    expect([obj.nbformat, obj.nbformat_minor]).toStrictEqual([4, 5]);
    expect(obj.metadata.kernelspec).toMatchObject({ name: 'peragus-pysd', language: 'python' });
    expect(obj.metadata.language_info).toMatchObject({ name: 'python' });
    expect(obj.metadata).toMatchObject({ title: 'T', peragus: { seeds: [1] } });
    expect(obj.cells[0]).toMatchObject({
      id: 'c1',
      source: ['a\n', 'b'],
      metadata: { peragus: { filename: 'c1.py' } },
      outputs: [{ text: ['x\n', 'y\n'] }],
    });
  });

  it('fromIpynb∘toIpynb is the identity', () => {
    fc.assert(
      fc.property(notebookArb(), (nb) => {
        expect(fromIpynb(toIpynb(nb))).toStrictEqual(nb);
      }),
      { numRuns: 300 },
    );
  });
});

describe('ipynb import', () => {
  it('reads a real Jupyter notebook (line lists, rich outputs, raw cell, attachments)', () => {
    const { notebook: nb, notes } = importIpynb(readFileSync(FIXTURE, 'utf8'));
    expect(nb.title).toBe('Teacup cooling');
    // The title heading moved out of the first cell; the rest of it stays.
    expect(nb.cells[0]).toStrictEqual({
      id: '3f2a9c1e',
      cell_type: 'markdown',
      source: "Newton's law of cooling with **PySD**.\nSee `teacup.mdl`.",
      metadata: {},
    });
    expect(nb.cells.map((c) => c.id)).toStrictEqual([
      '3f2a9c1e',
      'a1b2c3d4',
      'b7e8f9a0',
      'c0ffee00',
      'deadbeef',
      'raw00001',
      'att00001',
      'empty001',
    ]);
    const run = nb.cells[2]!;
    expect(run).toMatchObject({ cell_type: 'code', filename: 'b7e8f9a0.py', execution_count: 2 });
    expect(run.cell_type === 'code' && run.source).toBe(
      "model = pysd.read_vensim('teacup.mdl')\nmodel.run().head(1)",
    );
    expect(run.cell_type === 'code' && run.outputs).toStrictEqual([
      { output_type: 'stream', name: 'stdout', text: 'loading model\ndone\n' },
      {
        output_type: 'execute_result',
        execution_count: 2,
        data: {
          'text/html': '<div>\n<table><tr><td>180.0</td></tr></table>\n</div>',
          'text/plain': '   Teacup Temperature\n0               180.0',
        },
        metadata: {},
      },
    ]);
    const plot = nb.cells[3]!;
    expect(plot.cell_type === 'code' && plot.outputs[1]).toMatchObject({
      data: { 'application/json': { final: 75.1, runs: [1, 2] } },
    });
    expect(nb.cells[4]).toMatchObject({ outputs: [{ output_type: 'error', ename: 'KeyError' }] });
    expect(nb.cells[5]).toMatchObject({
      cell_type: 'markdown',
      source: '.. note:: raw',
      metadata: { format: 'text/restructuredtext', peragus: { raw: true } },
    });
    expect(nb.cells[7]).toMatchObject({ source: '', outputs: [], execution_count: null });
    expect(notes).toStrictEqual([
      'cells[5]: raw cell imported as markdown (exported back as raw)',
      'cells[6]: attachments dropped (not supported in srcmd)',
    ]);
    // And it persists as srcmd + outputs without loss.
    const { srcmd, outputs } = encodeBundle(nb);
    expect(decodeBundle(srcmd, outputs)).toStrictEqual(nb);
    expect(toIpynbObject(nb)).toMatchObject({ cells: { 5: { cell_type: 'raw' } } });
  });

  it('reads nbformat 4.4 without cell ids and takes the title from metadata', () => {
    const nb = fromIpynb(
      JSON.stringify({
        nbformat: 4,
        nbformat_minor: 4,
        metadata: { title: 'From metadata' },
        cells: [
          { cell_type: 'markdown', metadata: {}, source: ['# Heading\n', 'text'] },
          { cell_type: 'code', metadata: {}, source: 'x = 1', outputs: [], execution_count: null },
        ],
      }),
    );
    expect(nb.title).toBe('From metadata');
    expect(nb.cells.map((c) => c.id)).toStrictEqual(['cell-1', 'cell-2']);
    expect(nb.cells[0]!.source).toBe('# Heading\ntext');
  });

  it('falls back to Untitled without any h1', () => {
    const nb = fromIpynb(JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] }));
    expect(nb.title).toBe('Untitled');
  });
});

import { describe, expect, it } from 'vitest';
import { decodeBundle } from '../../srcmd/src/bundle.ts';
import { decodeSrcmd } from '../../srcmd/src/decode.ts';
import { encodeSrcmd } from '../../srcmd/src/encode.ts';
import {
  IpynbParseError,
  NotebookInvalidError,
  OutputsParseError,
  SrcmdParseError,
} from '../../srcmd/src/errors.ts';
import { fromIpynb } from '../../srcmd/src/ipynb.ts';
import type { CodeCell, Notebook } from '../../srcmd/src/nbformat.ts';

const HEADER = '<!-- srcbook:{"language":"python"} -->';

function srcmdError(text: string): SrcmdParseError {
  try {
    decodeSrcmd(text);
  } catch (e) {
    expect(e).toBeInstanceOf(SrcmdParseError);
    return e as SrcmdParseError;
  }
  throw new Error('expected SrcmdParseError');
}

function ipynbError(text: string): IpynbParseError {
  try {
    fromIpynb(text);
  } catch (e) {
    expect(e).toBeInstanceOf(IpynbParseError);
    return e as IpynbParseError;
  }
  throw new Error('expected IpynbParseError');
}

const lines = (...ls: string[]): string => `${ls.join('\n')}\n`;

describe('malformed srcmd names the line and the fix', () => {
  it.each([
    [
      'no header',
      lines('# T', 'text'),
      1,
      /missing the srcbook header.*Fix: make the first line <!-- srcbook:/,
    ],
    ['empty file', '', 1, /missing the srcbook header/],
    ['bad header JSON', lines('<!-- srcbook:{language:python} -->', '# T'), 1, /header is not valid JSON/],
    ['header not an object', lines('<!-- srcbook:[1] -->', '# T'), 1, /must be a JSON object/],
    [
      'other language',
      lines('<!-- srcbook:{"language":"typescript"} -->', '# T'),
      1,
      /"typescript" is not supported/,
    ],
    ['no title', lines(HEADER, '', 'Just text.'), 3, /expected the notebook title as a '# Title' line/],
    ['title missing at EOF', lines(HEADER, ''), 3, /found the end of the file/],
    [
      'two h1s',
      lines(HEADER, '', '# One', '', 'text', '# Two'),
      6,
      /a second h1 heading "# Two".*Fix: use "##"/,
    ],
    [
      'unterminated fence',
      lines(HEADER, '# T', '', '###### a.py', '', '````python', 'x = 1', '```'),
      6,
      /code block of "a.py" opened with ```` is never closed.*at least 4 backticks/,
    ],
    [
      'heading without code',
      lines(HEADER, '# T', '', '###### a.py', '', 'prose'),
      4,
      /not followed by a fenced code block/,
    ],
    [
      'bad marker JSON',
      lines(HEADER, '# T', '', '<!-- cell:{"id":} -->', 'x'),
      4,
      /cell marker is not valid JSON/,
    ],
    [
      'bad marker id',
      lines(HEADER, '# T', '', '<!-- cell:{"id":"a b"} -->', 'x'),
      4,
      /id "a b" is missing or invalid/,
    ],
    [
      'duplicate cell ids',
      lines(HEADER, '# T', '', '<!-- cell:{"id":"a"} -->', 'x', '', '<!-- cell:{"id":"a"} -->', 'y'),
      7,
      /duplicate cell id "a" \(first used on line 4\)/,
    ],
    [
      'duplicate file names',
      lines(HEADER, '# T', '', '###### a.py', '```', '1', '```', '', '###### a.py', '```', '2', '```'),
      9,
      /duplicate code cell file name "a.py" \(first used on line 4\)/,
    ],
  ])('%s', (_name, text, line, message) => {
    const err = srcmdError(text);
    expect(err.line).toBe(line);
    expect(err.message).toMatch(new RegExp(`^srcmd line ${line}: `));
    expect(err.message).toMatch(message);
  });
});

describe('notebooks that cannot be written', () => {
  const base: Notebook = { title: 'T', language: 'python', cells: [], metadata: {} };
  const code = (id: string, filename: string): CodeCell => ({
    id,
    cell_type: 'code',
    filename,
    source: '',
    execution_count: null,
    outputs: [],
    metadata: {},
  });
  it('rejects duplicate ids and file names with the field', () => {
    expect(() => encodeSrcmd({ ...base, cells: [code('a', 'x.py'), code('a', 'y.py')] })).toThrow(
      /notebook cells\[1\]\.id: duplicate cell id "a" \(also cells\[0\]\)/,
    );
    expect(() => encodeSrcmd({ ...base, cells: [code('a', 'x.py'), code('b', 'x.py')] })).toThrow(
      NotebookInvalidError,
    );
    expect(() => encodeSrcmd({ ...base, cells: [code('a b', 'x.py')] })).toThrow(
      /cells\[0\]\.id: cell id must match/,
    );
  });
});

describe('malformed ipynb names the field and the fix', () => {
  const valid = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: [{ id: 'a', cell_type: 'code', metadata: {}, source: 'x', outputs: [], execution_count: null }],
  };
  const mutate = (f: (nb: Record<string, unknown> & typeof valid) => void): string => {
    const nb = structuredClone(valid);
    f(nb);
    return JSON.stringify(nb);
  };
  it.each([
    ['invalid JSON', '{"nbformat": 4,', '', /ipynb \(root\): not valid JSON/],
    [
      'wrong major',
      mutate((nb) => Object.assign(nb, { nbformat: 3 })),
      'nbformat',
      /major version 4, got 3.*nbconvert/,
    ],
    [
      'missing cells',
      mutate((nb) => Object.assign(nb, { cells: undefined })),
      'cells',
      /required field is missing.*Fix: add "cells"/,
    ],
    [
      'missing source',
      mutate((nb) => Object.assign(nb.cells[0]!, { source: undefined })),
      'cells[0].source',
      /required field is missing.*add "source"/,
    ],
    [
      'bad cell type',
      mutate((nb) => Object.assign(nb.cells[0]!, { cell_type: 'python' })),
      'cells[0].cell_type',
      /code, markdown, raw/,
    ],
    [
      'bad output',
      mutate((nb) =>
        Object.assign(nb.cells[0]!, { outputs: [{ output_type: 'stream', name: 'stdout', text: 5 }] }),
      ),
      'cells[0].outputs[0].text',
      /string or a list of strings/,
    ],
    [
      'duplicate ids',
      mutate((nb) => nb.cells.push({ ...nb.cells[0]! })),
      'cells[1].id',
      /duplicate cell id "a"/,
    ],
    [
      'invalid id',
      mutate((nb) => Object.assign(nb.cells[0]!, { id: 'a b' })),
      'cells[0].id',
      /invalid cell id/,
    ],
  ])('%s', (_name, text, field, message) => {
    const err = ipynbError(text);
    expect(err.field).toBe(field);
    expect(err.message).toContain(`ipynb ${field || '(root)'}: `);
    expect(err.message).toMatch(message);
    expect(err.message).toMatch(/Fix: /);
  });
});

describe('outputs file errors', () => {
  const srcmd = lines(HEADER, '# T', '', '<!-- cell:{"id":"a"} -->', '###### a.py', '```python', 'x', '```');
  const file = (cells: unknown) =>
    JSON.stringify({ format: 'peragus.outputs', version: 1, metadata: {}, cells });
  it('names an unknown cell id, and can drop it', () => {
    const stale = [
      { id: 'a', outputs: [] },
      { id: 'zz', outputs: [] },
    ];
    expect(() => decodeBundle(srcmd, file(stale))).toThrow(
      /outputs\.json cells\[1\]\.id: no code cell with id "zz".*unknownCells/,
    );
    expect(decodeBundle(srcmd, file(stale), { unknownCells: 'drop' }).cells).toHaveLength(1);
    expect(() => decodeBundle(srcmd, file([{ id: 'a' }, { id: 'a' }]))).toThrow(
      /cells\[1\]\.id: duplicate entry for cell "a"/,
    );
  });
  it('names the bad field', () => {
    const err = (() => {
      try {
        decodeBundle(srcmd, file([{ id: 'a', outputs: [{ output_type: 'nope' }] }]));
      } catch (e) {
        return e as OutputsParseError;
      }
    })();
    expect(err).toBeInstanceOf(OutputsParseError);
    expect(err!.field).toBe('cells[0].outputs[0].output_type');
    expect(() => decodeBundle(srcmd, '{')).toThrow(/outputs\.json \(root\): not valid JSON/);
    expect(() => decodeBundle(srcmd, JSON.stringify({ format: 'peragus.outputs', version: 9 }))).toThrow(
      /version 9 was written by a newer Peragus/,
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSrcmd } from '../../srcmd/src/decode.ts';
import { encodeSrcmd, headerExtras } from '../../srcmd/src/encode.ts';
import { FenceTracker, isH1, isH6 } from '../../srcmd/src/lines.ts';
import type { Notebook } from '../../srcmd/src/nbformat.ts';
import { inputsOnly, notebookArb } from './arbitraries.ts';

const nb = (cells: Notebook['cells'], title = 'T'): Notebook => ({
  title,
  language: 'python',
  cells,
  metadata: {},
});
const code = (id: string, source: string, filename?: string): Notebook['cells'][number] => ({
  id,
  cell_type: 'code',
  ...(filename !== undefined ? { filename } : {}),
  source,
  execution_count: null,
  outputs: [],
  metadata: {},
});
const md = (id: string, source: string): Notebook['cells'][number] => ({
  id,
  cell_type: 'markdown',
  source,
  metadata: {},
});

describe('srcmd encode∘decode', () => {
  it('is the identity on generated notebooks (inputs)', () => {
    fc.assert(
      fc.property(notebookArb(), (book) => {
        const decoded = decodeSrcmd(encodeSrcmd(book));
        expect(decoded).toStrictEqual(inputsOnly(book, headerExtras(book.metadata)));
      }),
      { numRuns: 600 },
    );
  });

  it('writes Srcbook structure: one h1, only code cells as h6, every fence closed', () => {
    fc.assert(
      fc.property(notebookArb({ outputs: false }), (book) => {
        const lines = encodeSrcmd(book).split('\n');
        const header = /^<!-- srcbook:(.*) -->$/.exec(lines[0]!);
        expect(JSON.parse(header![1]!).language).toBe('python');
        const fences = new FenceTracker();
        let h1 = 0;
        let h6 = 0;
        for (const line of lines.slice(1)) {
          if (fences.feed(line)) continue;
          expect(line).not.toMatch(/^ {0,3}=+[ \t\r]*$/); // no setext h1 underline
          if (isH1(line)) h1++;
          if (isH6(line)) h6++;
        }
        expect(fences.openFence).toBeNull();
        expect(h1).toBe(1);
        expect(h6).toBe(book.cells.filter((c) => c.cell_type === 'code').length);
      }),
      { numRuns: 300 },
    );
  });

  it('grows fences past backtick runs in code', () => {
    const src = 'a = "```"\nb = """\n````\n"""';
    const text = encodeSrcmd(nb([code('c', src, 'c.py')]));
    expect(text).toContain('\n`````python\n');
    expect(decodeSrcmd(text).cells[0]!.source).toBe(src);
  });

  it('escapes h1/h6/marker lines in markdown but not Python comments in fences', () => {
    const source =
      '# Not a title\n###### not_a_cell.py\n```python\n# a comment\n```\n<!-- cell:{"id":"x"} -->';
    const text = encodeSrcmd(nb([md('m', source)]));
    expect(text).toContain(
      '\n\\# Not a title\n\\###### not_a_cell.py\n```python\n# a comment\n```\n\\<!-- cell:',
    );
    expect(decodeSrcmd(text).cells).toStrictEqual([md('m', source)]);
  });

  it('keeps empty cells, blank lines and trailing newlines exactly', () => {
    const book = nb([
      md('a', ''),
      code('b', ''),
      md('c', '\n\nx\n\n'),
      code('d', '\n', 'd.py'),
      md('e', '\n'),
    ]);
    expect(decodeSrcmd(encodeSrcmd(book))).toStrictEqual(book);
  });

  it('reads the format documented in docs/decisions/srcmd.md', () => {
    const text = [
      '<!-- srcbook:{"language":"python"} -->',
      '',
      '# Teacup',
      '',
      '<!-- cell:{"id":"intro"} -->',
      'Cooling of a cup of tea.',
      '',
      '<!-- cell:{"id":"load"} -->',
      '###### load_model.py',
      '',
      '```python',
      'import pysd',
      '```',
      '',
    ].join('\n');
    expect(decodeSrcmd(text)).toStrictEqual(
      nb([md('intro', 'Cooling of a cup of tea.'), code('load', 'import pysd', 'load_model.py')], 'Teacup'),
    );
    expect(encodeSrcmd(decodeSrcmd(text))).toBe(text);
  });

  it('reads plain Srcbook files without markers, deriving stable ids', () => {
    const text = [
      '<!-- srcbook:{"language":"python","tsconfig.json":{"x":1}} -->',
      '',
      '# Plain Srcbook',
      '',
      'Intro paragraph.',
      '',
      '## Section',
      '',
      '###### load-model.py',
      '',
      '```python',
      'x = 1',
      '```',
      '',
      'Between.',
      '',
      '###### run.py',
      '~~~',
      'print(x)',
      '~~~',
    ].join('\n');
    const decoded = decodeSrcmd(text);
    expect(decoded.metadata).toStrictEqual({ srcbook: { 'tsconfig.json': { x: 1 } } });
    expect(decoded.cells.map((c) => [c.id, c.cell_type, c.source])).toStrictEqual([
      ['md-1', 'markdown', 'Intro paragraph.\n\n## Section'],
      ['load-model', 'code', 'x = 1'],
      ['md-2', 'markdown', 'Between.'],
      ['run', 'code', 'print(x)'],
    ]);
    // Re-encoding adds markers; from then on ids are fixed.
    expect(decodeSrcmd(encodeSrcmd(decoded))).toStrictEqual(decoded);
  });

  it('keeps titles and file names a heading cannot hold in the JSON', () => {
    const book = nb([code('c', 'x', 'two\nlines.py'), code('d', 'y')], 'multi\nline title');
    const text = encodeSrcmd(book);
    expect(text).toContain('"title":"multi\\nline title"');
    expect(text).toContain('# multi line title\n');
    expect(text).toContain('<!-- cell:{"id":"d","filename":null} -->\n###### d.py');
    expect(decodeSrcmd(text)).toStrictEqual(book);
  });

  it('accepts a CRLF-converted file', () => {
    const text = encodeSrcmd(nb([md('a', 'x\ny'), code('b', 'p = 1\nq = 2', 'b.py')])).replace(/\n/g, '\r\n');
    expect(decodeSrcmd(text)).toStrictEqual(nb([md('a', 'x\ny'), code('b', 'p = 1\nq = 2', 'b.py')]));
  });

  it('never lets metadata JSON close the HTML comment', () => {
    const book = nb([{ ...md('a', 'x'), metadata: { evil: '--> <!-- cell:{"id":"z"} -->' } }]);
    const text = encodeSrcmd(book);
    expect(text.split('\n').filter((l) => l.includes('-->')).length).toBe(2);
    expect(decodeSrcmd(text)).toStrictEqual(book);
  });
});

// fast-check generators for notebooks, biased towards text that stresses the srcmd
// grammar: headings, fences, backtick runs, markers, escapes, CR, blank lines, unicode.
import fc from 'fast-check';
import type { Cell, Notebook, Output } from '../../srcmd/src/nbformat.ts';

const TRICKY_LINES = [
  '# Title',
  '#',
  '# x #',
  '###### load.py',
  '######',
  '\\# escaped',
  '\\\\###### x.py',
  '   # indented h1',
  '    # indented code',
  '## h2',
  '===',
  ' \\== ',
  '---',
  '####### seven',
  '> # quote',
  '- # list',
  '```',
  '````',
  '```python',
  '~~~',
  '~~~~ tilde',
  '``` `x`',
  '`',
  '``',
  'a ``` inline ```` b',
  '<!-- cell:{"id":"x"} -->',
  '\\<!-- cell:{"id":"x"} -->',
  '<!-- cell:',
  '<!-- srcbook:{"language":"python"} -->',
  '<!-- comment -->',
  '',
  ' ',
  '\t',
  '\r',
  'crlf\r',
  'héllo wörld — 日本語 🌍👩‍👩‍👧',
  'x = 1',
  'print("```")',
];

/** Any single line (no "\n"), possibly tricky. `safe` avoids lone surrogates (for files on disk). */
export const lineArb = (safe = false): fc.Arbitrary<string> =>
  fc
    .oneof(
      { weight: 4, arbitrary: fc.constantFrom(...TRICKY_LINES) },
      { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 16 }) },
      { weight: 1, arbitrary: fc.string({ unit: safe ? 'grapheme-ascii' : 'binary', maxLength: 8 }) },
    )
    .map((s) => s.replaceAll('\n', ' '));

/** Multi-line text including empty text and leading/trailing blank lines. */
export const textArb = (safe = false): fc.Arbitrary<string> =>
  fc.array(lineArb(safe), { maxLength: 8 }).map((lines) => lines.join('\n'));

// `__proto__` and friends are valid nbformat ids and break naive object maps.
export const idArb = fc.oneof(
  { weight: 9, arbitrary: fc.stringMatching(/^[a-zA-Z0-9_-]{1,12}$/) },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty') },
);

const filenameArb = fc.oneof(
  fc.constantFrom('load.py', 'run sweep.py', 'ü.py', '#', 'x #', ' lead.py', 'trail.py ', 'new\nline.py', ''),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
);

export const titleArb = fc.oneof(
  fc.constantFrom('Teacup', '', ' padded ', 'a\nb', 'ends #', '#', 'Üñíçødé 🌍', '\\# t'),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
);

const metaKey = fc.constantFrom('peragus_tool', 'x', 'a b', 'deps');
const metadataArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant({}) },
  { weight: 1, arbitrary: fc.dictionary(metaKey, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 2 }) },
);

const mimeArb = fc
  .record(
    {
      'text/plain': textArb(true),
      'text/html': textArb(true),
      'image/png': fc.base64String({ maxLength: 12 }),
      'application/json': fc.jsonValue({ maxDepth: 2 }),
    },
    { requiredKeys: [] },
  )
  .map((d) => d as Record<string, unknown>);

export const outputArb: fc.Arbitrary<Output> = fc.oneof(
  fc.record({
    output_type: fc.constant('stream' as const),
    name: fc.constantFrom('stdout' as const, 'stderr' as const),
    text: textArb(true),
  }),
  fc.record({ output_type: fc.constant('display_data' as const), data: mimeArb, metadata: metadataArb }),
  fc.record({
    output_type: fc.constant('execute_result' as const),
    execution_count: fc.option(fc.nat(999), { nil: null }),
    data: mimeArb,
    metadata: metadataArb,
  }),
  fc.record({
    output_type: fc.constant('error' as const),
    ename: fc.string({ maxLength: 10 }),
    evalue: fc.string({ maxLength: 10 }),
    traceback: fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 }),
  }),
);

type Draft =
  | { kind: 'markdown'; source: string; metadata: Record<string, unknown> }
  | {
      kind: 'code';
      source: string;
      filename: string | undefined;
      metadata: Record<string, unknown>;
      execution_count: number | null;
      outputs: Output[];
    };

const draftArb = (safe: boolean, withOutputs: boolean): fc.Arbitrary<Draft> =>
  fc.oneof(
    fc.record({ kind: fc.constant('markdown' as const), source: textArb(safe), metadata: metadataArb }),
    fc.record({
      kind: fc.constant('code' as const),
      source: textArb(safe),
      filename: fc.option(filenameArb, { nil: undefined }),
      metadata: metadataArb,
      execution_count: withOutputs ? fc.option(fc.nat(999), { nil: null }) : fc.constant(null),
      outputs: withOutputs ? fc.array(outputArb, { maxLength: 3 }) : fc.constant<Output[]>([]),
    }),
  );

export interface NotebookArbOptions {
  /** Only text that survives UTF-8 files (no lone surrogates). */
  safe?: boolean;
  /** Generate outputs and execution counts (default true). */
  outputs?: boolean;
  /** Generate notebook metadata including `srcbook` header extras (default true). */
  metadata?: boolean;
}

export const notebookArb = (opts: NotebookArbOptions = {}): fc.Arbitrary<Notebook> => {
  const safe = opts.safe ?? false;
  const nbMeta =
    opts.metadata === false
      ? fc.constant({})
      : fc.dictionary(
          fc.constantFrom('image_digest', 'seeds', 'input_checksums', 'srcbook'),
          fc.oneof(
            fc.jsonValue({ maxDepth: 2 }),
            fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 1 })),
          ),
          { maxKeys: 3 },
        );
  return fc
    .record({
      title: titleArb,
      drafts: fc.array(draftArb(safe, opts.outputs ?? true), { maxLength: 6 }),
      metadata: nbMeta,
    })
    .chain(({ title, drafts, metadata }) =>
      fc.uniqueArray(idArb, { minLength: drafts.length, maxLength: drafts.length }).map((ids): Notebook => {
        const names = new Set<string>();
        const cells = drafts.map((d, i): Cell => {
          const id = ids[i]!;
          if (d.kind === 'markdown')
            return { id, cell_type: 'markdown', source: d.source, metadata: d.metadata };
          const unique = d.filename !== undefined && !names.has(d.filename) ? d.filename : undefined;
          if (unique !== undefined) names.add(unique);
          return {
            id,
            cell_type: 'code',
            ...(unique !== undefined ? { filename: unique } : {}),
            source: d.source,
            execution_count: d.execution_count,
            outputs: d.outputs,
            metadata: d.metadata,
          };
        });
        // Through JSON: plain prototypes and no -0, as a notebook read from disk would be.
        return JSON.parse(JSON.stringify({ title, language: 'python', cells, metadata }));
      }),
    );
};

/** What a .src.md alone carries: no outputs, no run metadata (only header extras). */
export function inputsOnly(nb: Notebook, srcbook: Record<string, unknown> | null): Notebook {
  return {
    ...nb,
    cells: nb.cells.map((c) => (c.cell_type === 'code' ? { ...c, execution_count: null, outputs: [] } : c)),
    metadata: srcbook ? { srcbook } : {},
  };
}

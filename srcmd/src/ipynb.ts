// nbformat 4 (.ipynb) import and export. Export writes 4.5 (cell ids) in Jupyter's own
// shape (multiline strings as lists of lines) so `nbformat.validate` accepts it and
// Jupyter diffs stay small. Peragus-only data rides in `metadata.peragus`:
// notebook metadata at the top level, the code-cell file name and raw-cell flag per cell.
import { z } from 'zod';
import { formatPath, IpynbParseError } from './errors.ts';
import { FenceTracker, headingText, isBlank, isH1, isPlainObject } from './lines.ts';
import { CELL_ID_RULE, type Cell, CellId, type Notebook, type Output } from './nbformat.ts';

type Json = Record<string, unknown>;

/** Jupyter's multiline form: each line keeps its "\n"; the empty string is []. */
export function toLineList(text: string): string[] {
  return text === '' ? [] : text.split(/(?<=\n)/);
}

const joinMultiline = (v: string | string[]): string => (Array.isArray(v) ? v.join('') : v);
const isJsonMime = (mime: string): boolean => /^application\/(.*\+)?json$/.test(mime);

function mimeBundleOut(data: Json): Json {
  return Object.fromEntries(
    Object.entries(data).map(([mime, v]) => [
      mime,
      !isJsonMime(mime) && typeof v === 'string' ? toLineList(v) : v,
    ]),
  );
}

function mimeBundleIn(data: Json): Json {
  return Object.fromEntries(
    Object.entries(data).map(([mime, v]) => {
      const lines = Array.isArray(v) && v.every((x) => typeof x === 'string');
      return [mime, !isJsonMime(mime) && lines ? (v as string[]).join('') : v];
    }),
  );
}

/** One output from one side to the other: how text and MIME bundles change is all that differs. */
function convertOutput(
  o: Output | z.infer<typeof OutputIn>,
  text: (t: string | string[]) => string | string[],
  data: (d: Json) => Json,
): Json {
  switch (o.output_type) {
    case 'stream':
      return { output_type: 'stream', name: o.name, text: text(o.text) };
    case 'display_data':
      return { output_type: 'display_data', data: data(o.data), metadata: o.metadata };
    case 'execute_result':
      return {
        output_type: 'execute_result',
        execution_count: o.execution_count,
        data: data(o.data),
        metadata: o.metadata,
      };
    case 'error':
      return { output_type: 'error', ename: o.ename, evalue: o.evalue, traceback: o.traceback };
  }
}

function outputOut(o: Output): Json {
  return convertOutput(o, (t) => toLineList(joinMultiline(t)), mimeBundleOut);
}

function peragusOf(metadata: Json): Json {
  return isPlainObject(metadata.peragus) ? metadata.peragus : {};
}

function cellOut(cell: Cell): Json {
  const source = toLineList(cell.source);
  if (cell.cell_type === 'markdown') {
    const { raw, ...rest } = peragusOf(cell.metadata);
    if (raw === true) {
      const metadata: Json = { ...cell.metadata, peragus: rest };
      if (Object.keys(rest).length === 0) delete metadata.peragus;
      return { id: cell.id, cell_type: 'raw', metadata, source };
    }
    return { id: cell.id, cell_type: 'markdown', metadata: cell.metadata, source };
  }
  // null records "no file name" so that import does not invent one.
  const peragus = { ...peragusOf(cell.metadata), filename: cell.filename ?? null };
  return {
    id: cell.id,
    cell_type: 'code',
    metadata: { ...cell.metadata, peragus },
    execution_count: cell.execution_count,
    outputs: cell.outputs.map(outputOut),
    source,
  };
}

export const KERNELSPEC = {
  name: 'peragus-pysd',
  display_name: 'Python 3 (PySD, Peragus)',
  language: 'python',
};
export const LANGUAGE_INFO = {
  name: 'python',
  file_extension: '.py',
  mimetype: 'text/x-python',
  pygments_lexer: 'ipython3',
  codemirror_mode: { name: 'ipython', version: 3 },
  nbconvert_exporter: 'python',
};

/** Notebook → nbformat 4.5 JSON text (object form: `toIpynbObject`). */
export function toIpynb(nb: Notebook): string {
  return `${JSON.stringify(toIpynbObject(nb), null, 1)}\n`;
}

export function toIpynbObject(nb: Notebook): Json {
  const metadata: Json = { kernelspec: KERNELSPEC, language_info: LANGUAGE_INFO, title: nb.title };
  if (Object.keys(nb.metadata).length > 0) metadata.peragus = nb.metadata;
  return { cells: nb.cells.map(cellOut), metadata, nbformat: 4, nbformat_minor: 5 };
}

// Import schemas: lenient where Jupyter tools differ (optional ids before 4.5, extra keys),
// strict where a value would be unusable.
const Multiline = z.union([z.string(), z.array(z.string())], {
  error: 'expected a string or a list of strings',
});
// Free-form objects pass through as parsed (a zod record would drop "__proto__" keys).
const Meta = z.custom<Json>(isPlainObject, 'expected a JSON object').default({});

const OutputIn = z.discriminatedUnion(
  'output_type',
  [
    z.looseObject({ output_type: z.literal('stream'), name: z.enum(['stdout', 'stderr']), text: Multiline }),
    z.looseObject({ output_type: z.literal('display_data'), data: Meta, metadata: Meta }),
    z.looseObject({
      output_type: z.literal('execute_result'),
      execution_count: z.number().int().nullable().default(null),
      data: Meta,
      metadata: Meta,
    }),
    z.looseObject({
      output_type: z.literal('error'),
      ename: z.string(),
      evalue: z.string(),
      traceback: z.array(z.string()),
    }),
  ],
  { error: 'output_type must be one of stream, display_data, execute_result, error' },
);

const common = { id: z.string().optional(), source: Multiline, metadata: Meta };
const CellIn = z.discriminatedUnion(
  'cell_type',
  [
    z.looseObject({
      ...common,
      cell_type: z.literal('code'),
      execution_count: z.number().int().nullable().default(null),
      outputs: z.array(OutputIn).default([]),
    }),
    z.looseObject({ ...common, cell_type: z.literal('markdown'), attachments: z.unknown().optional() }),
    z.looseObject({ ...common, cell_type: z.literal('raw'), attachments: z.unknown().optional() }),
  ],
  { error: 'cell_type must be one of code, markdown, raw' },
);

const NotebookIn = z.looseObject({
  nbformat: z.number().int(),
  nbformat_minor: z.number().int().optional(),
  metadata: Meta,
  cells: z.array(CellIn),
});

export interface IpynbImport {
  notebook: Notebook;
  /** Lossy conversions, e.g. a raw cell imported as markdown or dropped attachments. */
  notes: string[];
}

function outputIn(o: z.infer<typeof OutputIn>): Output {
  return convertOutput(o, joinMultiline, mimeBundleIn) as Output;
}

const FIX_SCHEMA =
  'make the file a valid nbformat 4 notebook (open and save it in Jupyter, or run nbformat.validate)';

/** Splits Peragus' per-cell data out of the cell metadata. */
function takePeragus(metadata: Json): { metadata: Json; peragus: Json } {
  const peragus = peragusOf(metadata);
  const { peragus: _omit, ...rest } = metadata;
  return { metadata: rest, peragus };
}

function withPeragus(metadata: Json, peragus: Json): Json {
  return Object.keys(peragus).length > 0 ? { ...metadata, peragus } : metadata;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const key of path) v = isPlainObject(v) || Array.isArray(v) ? (v as Json)[key as string] : undefined;
  return v;
}

/** .ipynb text → Notebook plus notes about anything converted lossily. Throws IpynbParseError. */
export function importIpynb(text: string): IpynbImport {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new IpynbParseError(
      '',
      `not valid JSON (${(e as Error).message})`,
      'check the file is a complete .ipynb',
    );
  }
  if (!isPlainObject(raw)) throw new IpynbParseError('', 'the notebook must be a JSON object', FIX_SCHEMA);
  if (raw.nbformat !== 4) {
    throw new IpynbParseError(
      'nbformat',
      `expected nbformat major version 4, got ${JSON.stringify(raw.nbformat)}`,
      'convert it first: jupyter nbconvert --to notebook --nbformat 4 FILE.ipynb',
    );
  }
  const parsed = NotebookIn.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = formatPath(issue.path);
    if (valueAt(raw, issue.path) === undefined) {
      throw new IpynbParseError(
        field,
        'required field is missing',
        `add "${String(issue.path.at(-1))}"; ${FIX_SCHEMA}`,
      );
    }
    throw new IpynbParseError(field, issue.message, FIX_SCHEMA);
  }
  const notes: string[] = [];
  const used = new Set<string>();
  parsed.data.cells.forEach((c, i) => {
    if (c.id === undefined) return;
    if (!CellId.safeParse(c.id).success) {
      throw new IpynbParseError(
        `cells[${i}].id`,
        `invalid cell id ${JSON.stringify(c.id)}`,
        `use an id that ${CELL_ID_RULE}`,
      );
    }
    if (used.has(c.id)) {
      throw new IpynbParseError(
        `cells[${i}].id`,
        `duplicate cell id "${c.id}"`,
        'give every cell a unique id',
      );
    }
    used.add(c.id);
  });
  const names = new Set<string>();
  const cells = parsed.data.cells.map((c, i): Cell => {
    let id = c.id;
    if (id === undefined) {
      // Before nbformat 4.5 cells had no ids: derive stable ones from the position.
      for (let n = i + 1; id === undefined || used.has(id); n++) id = `cell-${n}`;
      used.add(id);
    }
    const source = joinMultiline(c.source);
    const { metadata, peragus } = takePeragus(c.metadata);
    if (c.cell_type === 'code') {
      const { filename: fn, ...restPeragus } = peragus;
      let filename = typeof fn === 'string' ? fn : fn === null ? undefined : `${id}.py`;
      if (filename !== undefined && names.has(filename)) {
        const taken = filename;
        filename = `${id}.py`;
        for (let n = 2; names.has(filename); n++) filename = `${id}-${n}.py`;
        notes.push(`cells[${i}]: duplicate file name "${taken}" replaced by "${filename}"`);
      }
      if (filename !== undefined) names.add(filename);
      return {
        id,
        cell_type: 'code',
        ...(filename !== undefined ? { filename } : {}),
        source,
        execution_count: c.execution_count,
        outputs: c.outputs.map(outputIn),
        metadata: withPeragus(metadata, restPeragus),
      };
    }
    if (c.attachments !== undefined) notes.push(`cells[${i}]: attachments dropped (not supported in srcmd)`);
    if (c.cell_type === 'raw') {
      notes.push(`cells[${i}]: raw cell imported as markdown (exported back as raw)`);
      return {
        id,
        cell_type: 'markdown',
        source,
        metadata: withPeragus(metadata, { ...peragus, raw: true }),
      };
    }
    return { id, cell_type: 'markdown', source, metadata: withPeragus(metadata, peragus) };
  });
  const md = parsed.data.metadata;
  const title = typeof md.title === 'string' ? md.title : titleFromCells(cells);
  const nbMeta = isPlainObject(md.peragus) ? md.peragus : {};
  return { notebook: { title, language: 'python', cells, metadata: nbMeta }, notes };
}

/** .ipynb text → Notebook. See importIpynb for the notes on lossy conversions. */
export function fromIpynb(text: string): Notebook {
  return importIpynb(text).notebook;
}

/**
 * Title from the first h1 of a markdown cell. When it opens the notebook's first cell
 * (Jupyter's usual title cell), the heading moves out of the cell, so the srcmd does
 * not show it twice; an emptied cell is removed. Mutates `cells`.
 */
function titleFromCells(cells: Cell[]): string {
  for (const [index, cell] of cells.entries()) {
    if (cell.cell_type !== 'markdown') continue;
    const lines = cell.source.split('\n');
    const fences = new FenceTracker();
    const at = lines.findIndex((l) => !fences.feed(l) && isH1(l));
    if (at < 0) continue;
    const title = headingText(lines[at]!, 1)!;
    if (index === 0 && lines.slice(0, at).every(isBlank)) {
      let end = at + 1;
      while (end < lines.length && isBlank(lines[end]!)) end++;
      const rest = lines.slice(end).join('\n');
      if (rest === '') cells.splice(0, 1);
      else cells[0] = { ...cell, source: rest };
    }
    return title;
  }
  return 'Untitled';
}

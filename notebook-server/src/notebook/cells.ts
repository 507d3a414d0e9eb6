// Cell helpers: ids, construction, positions, and output accumulation.
import { randomBytes } from 'node:crypto';
import { CELL_ID_RULE, type Cell, CellId, type Output } from '../../../srcmd/src/nbformat.ts';
import { InvalidCellError } from './errors.ts';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';

/** 12 random url-safe characters (72 bits): collision-free in practice, and fits nbformat's id pattern. */
export function newId(length = 12): string {
  const bytes = randomBytes(length);
  let id = '';
  // 64 symbols: the low 6 bits of each byte are uniform. The first is alphanumeric so
  // ids used in file names never look like command-line options.
  for (const [i, b] of bytes.entries()) id += ALPHABET[i === 0 ? b % 62 : b & 63];
  return id;
}

export interface NewCell {
  cell_type?: 'code' | 'markdown';
  source?: string;
  /** srcmd file name of a code cell, e.g. "load_model.py". */
  filename?: string;
  /** Keep an existing id (import); otherwise a new one is made. */
  id?: string;
  metadata?: Record<string, unknown>;
}

/** A notebook cell's content as a NewCell: its type, source and (code cells) srcmd file name. */
export function newCellFrom(cell: Cell): NewCell {
  return {
    cell_type: cell.cell_type,
    source: cell.source,
    ...(cell.cell_type === 'code' && cell.filename ? { filename: cell.filename } : {}),
  };
}

/** Where to insert: at an index (clamped), or after / before a cell id. Default: the end. */
export type CellPosition = { index: number } | { after: string } | { before: string };

/** 'all' is the execute-everything target, so no cell may carry it as its id. */
export const RESERVED_CELL_IDS = new Set(['all']);

export function makeCell(spec: NewCell, taken: ReadonlySet<string>): Cell {
  let id = spec.id;
  if (id !== undefined) {
    const parsed = CellId.safeParse(id);
    if (!parsed.success) throw new InvalidCellError(`invalid cell id "${id}": ${CELL_ID_RULE}`);
    if (RESERVED_CELL_IDS.has(id)) throw new InvalidCellError(`cell id "${id}" is reserved`);
    if (taken.has(id)) throw new InvalidCellError(`cell id "${id}" already exists`);
  } else {
    do id = newId();
    while (taken.has(id));
  }
  const metadata = spec.metadata ?? {};
  if ((spec.cell_type ?? 'code') === 'markdown') {
    return { id, cell_type: 'markdown', source: spec.source ?? '', metadata };
  }
  return {
    id,
    cell_type: 'code',
    ...(spec.filename !== undefined ? { filename: spec.filename } : {}),
    source: spec.source ?? '',
    execution_count: null,
    outputs: [],
    metadata,
  };
}

/** `name` if free, else `stem_2.ext`, `stem_3.ext`, …: the first not in `taken`. */
export function uniqueFilename(name: string, taken: ReadonlySet<string>): string {
  if (!taken.has(name)) return name;
  const dot = name.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  for (let i = 2; ; i++) {
    const candidate = `${stem}_${i}${ext}`;
    if (!taken.has(candidate)) return candidate;
  }
}

/**
 * Appends an output the way Jupyter front ends do: a stream chunk following
 * the same stream extends it. Returns the index the chunk landed at.
 */
export function appendOutput(outputs: Output[], output: Output): number {
  const last = outputs.at(-1);
  if (output.output_type === 'stream' && last?.output_type === 'stream' && last.name === output.name) {
    last.text = joinText(last.text) + joinText(output.text);
    return outputs.length - 1;
  }
  outputs.push(structuredClone(output));
  return outputs.length - 1;
}

function joinText(text: string | string[]): string {
  return typeof text === 'string' ? text : text.join('');
}

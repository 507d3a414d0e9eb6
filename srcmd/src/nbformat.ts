// nbformat 4 shapes as zod schemas: the one definition of cells and outputs
// shared by the kernel bridge, sessions, srcmd/ipynb codecs, MCP, HTTP and UI.
import { z } from 'zod';

/** nbformat multiline strings: a string or a list of lines. We always emit strings. */
export const MultilineString = z.union([z.string(), z.array(z.string())]);

export const MimeBundle = z.record(z.string(), z.unknown());

/** The value of a JSON mime type in a bundle: an object, or its JSON text as a string or list of lines. */
export function mimeJson(data: Record<string, unknown> | undefined, mime: string): unknown {
  const raw = data?.[mime];
  if (raw === undefined) return undefined;
  if (typeof raw === 'string') return JSON.parse(raw);
  if (Array.isArray(raw) && raw.every((x) => typeof x === 'string')) return JSON.parse(raw.join(''));
  return raw;
}

export const StreamOutput = z.object({
  output_type: z.literal('stream'),
  name: z.enum(['stdout', 'stderr']),
  text: MultilineString,
});

export const DisplayDataOutput = z.object({
  output_type: z.literal('display_data'),
  data: MimeBundle,
  metadata: z.record(z.string(), z.unknown()).default({}),
});

export const ExecuteResultOutput = z.object({
  output_type: z.literal('execute_result'),
  execution_count: z.number().int().nullable(),
  data: MimeBundle,
  metadata: z.record(z.string(), z.unknown()).default({}),
});

export const ErrorOutput = z.object({
  output_type: z.literal('error'),
  ename: z.string(),
  evalue: z.string(),
  traceback: z.array(z.string()),
});

export const Output = z.discriminatedUnion('output_type', [
  StreamOutput,
  DisplayDataOutput,
  ExecuteResultOutput,
  ErrorOutput,
]);
export type Output = z.infer<typeof Output>;
export type StreamOutput = z.infer<typeof StreamOutput>;
export type ErrorOutput = z.infer<typeof ErrorOutput>;

/** Our cell ids: nbformat 4.5 allows [a-zA-Z0-9-_]{1,64}. */
export const CELL_ID_RULE = 'must match [a-zA-Z0-9-_]{1,64}';
export const CellId = z.string().regex(/^[a-zA-Z0-9-_]{1,64}$/, `cell id ${CELL_ID_RULE}`);

export const CodeCell = z.object({
  id: CellId,
  cell_type: z.literal('code'),
  /** srcmd file name of the cell, e.g. "load_model.py". */
  filename: z.string().optional(),
  source: z.string(),
  execution_count: z.number().int().nullable().default(null),
  outputs: z.array(Output).default([]),
  metadata: z.record(z.string(), z.unknown()).default({}),
});

export const MarkdownCell = z.object({
  id: CellId,
  cell_type: z.literal('markdown'),
  source: z.string(),
  metadata: z.record(z.string(), z.unknown()).default({}),
});

export const Cell = z.discriminatedUnion('cell_type', [CodeCell, MarkdownCell]);
export type Cell = z.infer<typeof Cell>;
export type CodeCell = z.infer<typeof CodeCell>;
export type MarkdownCell = z.infer<typeof MarkdownCell>;

/** A notebook as Peragus holds it: title + cells + free-form metadata (run metadata lives here). */
export const Notebook = z.object({
  title: z.string(),
  language: z.literal('python').default('python'),
  cells: z.array(Cell),
  metadata: z.record(z.string(), z.unknown()).default({}),
});
export type Notebook = z.infer<typeof Notebook>;

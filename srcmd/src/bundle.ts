// A notebook on disk is two texts: `name.src.md` (inputs, reviewable, diff-friendly)
// and `name.outputs.json` beside it (outputs, execution counts, run metadata such as
// image digest, input checksums and seeds). This module converts without any I/O.
import { z } from 'zod';
import { decodeSrcmd } from './decode.ts';
import { encodeSrcmd, headerExtras } from './encode.ts';
import { formatPath, OutputsParseError } from './errors.ts';
import { isPlainObject } from './lines.ts';
import { type Cell, CellId, type Notebook, Output } from './nbformat.ts';

export const OUTPUTS_FORMAT = 'peragus.outputs';
export const OUTPUTS_VERSION = 1;

export const CellRunData = z.object({
  id: CellId,
  execution_count: z.number().int().nullable().default(null),
  outputs: z.array(Output).default([]),
});

export const OutputsFile = z.object({
  format: z.literal(OUTPUTS_FORMAT),
  version: z.number().int(),
  /** Notebook metadata (run metadata) except `srcbook`, which lives in the .src.md header. */
  metadata: z.custom<Record<string, unknown>>(isPlainObject, 'expected a JSON object').default({}),
  /**
   * One entry per code cell that ran, in notebook order. A list, not an object keyed by
   * id: `__proto__` is a valid cell id and would not survive as an object key.
   */
  cells: z.array(CellRunData).default([]),
});
export type OutputsFile = z.infer<typeof OutputsFile>;

export interface Bundle {
  srcmd: string;
  outputs: string;
}

export interface DecodeBundleOptions {
  /**
   * Outputs of a cell id that is not a code cell of the .src.md (e.g. the cell was
   * deleted by hand): 'error' (default) throws OutputsParseError, 'drop' ignores them.
   */
  unknownCells?: 'error' | 'drop';
}

export function encodeOutputs(nb: Notebook): string {
  const metadata: Record<string, unknown> = { ...nb.metadata };
  if (headerExtras(nb.metadata)) delete metadata.srcbook;
  const cells: z.infer<typeof CellRunData>[] = [];
  for (const cell of nb.cells) {
    if (cell.cell_type !== 'code') continue;
    if (cell.execution_count === null && cell.outputs.length === 0) continue;
    cells.push({ id: cell.id, execution_count: cell.execution_count, outputs: cell.outputs });
  }
  const file: OutputsFile = { format: OUTPUTS_FORMAT, version: OUTPUTS_VERSION, metadata, cells };
  return `${JSON.stringify(file, null, 2)}\n`;
}

/** Notebook → {srcmd, outputs} texts. decodeBundle(encodeBundle(nb)) equals nb. */
export function encodeBundle(nb: Notebook): Bundle {
  return { srcmd: encodeSrcmd(nb), outputs: encodeOutputs(nb) };
}

export function parseOutputs(text: string): OutputsFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new OutputsParseError(
      '',
      `not valid JSON (${(e as Error).message})`,
      'restore the file or delete it',
    );
  }
  if (isPlainObject(raw) && typeof raw.version === 'number' && raw.version > OUTPUTS_VERSION) {
    throw new OutputsParseError(
      'version',
      `version ${raw.version} was written by a newer Peragus (this one reads ${OUTPUTS_VERSION})`,
      'upgrade Peragus',
    );
  }
  const parsed = OutputsFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new OutputsParseError(
      formatPath(issue.path),
      issue.message,
      'make it match the outputs file schema (srcmd/src/bundle.ts), or delete the file to keep only the inputs',
    );
  }
  return parsed.data;
}

/** Applies parsed outputs to a notebook decoded from its .src.md. */
export function applyOutputs(nb: Notebook, file: OutputsFile, options: DecodeBundleOptions = {}): Notebook {
  const byId = new Map(nb.cells.map((c) => [c.id, c]));
  const runs = new Map<string, z.infer<typeof CellRunData>>();
  file.cells.forEach((run, i) => {
    const field = formatPath(['cells', i, 'id']);
    if (runs.has(run.id)) {
      throw new OutputsParseError(field, `duplicate entry for cell "${run.id}"`, 'keep one entry per cell');
    }
    const cell = byId.get(run.id);
    if (cell?.cell_type === 'code') runs.set(run.id, run);
    else if (options.unknownCells !== 'drop') {
      throw new OutputsParseError(
        field,
        cell
          ? `cell "${run.id}" is a markdown cell and cannot have outputs`
          : `no code cell with id "${run.id}" in the .src.md`,
        'delete this entry, or decode with { unknownCells: "drop" }',
      );
    }
  });
  const cells = nb.cells.map((cell): Cell => {
    const run = runs.get(cell.id);
    if (cell.cell_type !== 'code' || !run) return cell;
    return { ...cell, execution_count: run.execution_count, outputs: run.outputs };
  });
  // The srcmd header's `srcbook` wins over a stale copy in the outputs file.
  return { ...nb, cells, metadata: { ...file.metadata, ...nb.metadata } };
}

/** {srcmd, outputs} texts → Notebook. Without an outputs text, cells have no outputs. */
export function decodeBundle(
  srcmd: string,
  outputs?: string | null,
  options: DecodeBundleOptions = {},
): Notebook {
  const nb = decodeSrcmd(srcmd);
  if (outputs === undefined || outputs === null) return nb;
  return applyOutputs(nb, parseOutputs(outputs), options);
}

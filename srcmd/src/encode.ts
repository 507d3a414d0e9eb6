// Notebook → .src.md: Srcbook's grammar with Python cells, plus one-line cell markers
// `<!-- cell:{"id":...} -->` that carry stable ids (and, only when needed, the exact
// file name and cell metadata). Outputs are not part of this text; see bundle.ts.
// The grammar and its decisions: docs/decisions/srcmd.md.
import { formatPath, NotebookInvalidError } from './errors.ts';
import {
  commentJson,
  escapeMarkdown,
  fenceFor,
  headingHolds,
  headingLine,
  isPlainObject,
  OWN_HEADER_KEYS,
} from './lines.ts';
import { type Cell, Notebook } from './nbformat.ts';

/**
 * `metadata.srcbook` holds the header's keys other than ours (Srcbook's own, or a
 * future tool's). It goes into the header only when the header can carry it back
 * unchanged; otherwise the outputs file keeps it (see bundle.ts).
 */
export function headerExtras(metadata: Record<string, unknown>): Record<string, unknown> | null {
  const s = metadata.srcbook;
  if (!isPlainObject(s) || Object.keys(s).length === 0) return null;
  return Object.keys(s).some((k) => OWN_HEADER_KEYS.has(k)) ? null : s;
}

/** Rejects notebooks that could not be decoded back: bad shape, duplicate ids or file names. */
export function checkNotebook(nb: Notebook): void {
  const parsed = Notebook.safeParse(nb);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new NotebookInvalidError(
      formatPath(issue.path) || '(root)',
      issue.message,
      'pass a notebook matching srcmd/src/nbformat.ts',
    );
  }
  const ids = new Map<string, number>();
  const names = new Map<string, number>();
  nb.cells.forEach((cell, i) => {
    const prev = ids.get(cell.id);
    if (prev !== undefined) {
      throw new NotebookInvalidError(
        `cells[${i}].id`,
        `duplicate cell id "${cell.id}" (also cells[${prev}])`,
        'give every cell a unique id',
      );
    }
    ids.set(cell.id, i);
    if (cell.cell_type === 'code' && cell.filename !== undefined) {
      const prevName = names.get(cell.filename);
      if (prevName !== undefined) {
        throw new NotebookInvalidError(
          `cells[${i}].filename`,
          `duplicate file name "${cell.filename}" (also cells[${prevName}])`,
          'give every code cell a unique file name',
        );
      }
      names.set(cell.filename, i);
    }
  });
}

function placeholderTitle(title: string): string {
  const flat = title.replace(/\s+/g, ' ').trim();
  return headingHolds(flat, 1) ? flat : 'Untitled';
}

function encodeCell(cell: Cell): string {
  const marker: Record<string, unknown> = { id: cell.id };
  if (cell.cell_type === 'markdown') {
    const { lines, unclosed } = escapeMarkdown(cell.source);
    if (unclosed) {
      // A fence left open would swallow the following cells in any CommonMark reader
      // (Srcbook included): close it, and flag the added line so decode removes it.
      lines.push(unclosed.char.repeat(unclosed.len));
      marker.fence_closed = true;
    }
    if (Object.keys(cell.metadata).length > 0) marker.metadata = cell.metadata;
    return [`<!-- cell:${commentJson(marker)} -->`, ...lines].join('\n');
  }
  let shown: string;
  if (cell.filename === undefined) {
    // Srcbook needs a file name on every code cell; null in the marker says it is only a placeholder.
    marker.filename = null;
    shown = `${cell.id}.py`;
  } else if (headingHolds(cell.filename, 6)) {
    shown = cell.filename;
  } else {
    // Not expressible as a heading (e.g. a newline): the marker holds the exact name.
    marker.filename = cell.filename;
    shown = `${cell.id}.py`;
  }
  if (Object.keys(cell.metadata).length > 0) marker.metadata = cell.metadata;
  const fence = fenceFor(cell.source);
  return [
    `<!-- cell:${commentJson(marker)} -->`,
    headingLine(shown, 6),
    '',
    `${fence}python`,
    cell.source,
    fence,
  ].join('\n');
}

/** Notebook → .src.md text. Outputs, execution counts and notebook metadata (except `srcbook`) are not included. */
export function encodeSrcmd(nb: Notebook): string {
  checkNotebook(nb);
  const header: Record<string, unknown> = { language: 'python', ...headerExtras(nb.metadata) };
  const titleFits = headingHolds(nb.title, 1);
  if (!titleFits) header.title = nb.title;
  const parts = [
    `<!-- srcbook:${commentJson(header)} -->`,
    headingLine(titleFits ? nb.title : placeholderTitle(nb.title), 1),
    ...nb.cells.map(encodeCell),
  ];
  return `${parts.join('\n\n')}\n`;
}

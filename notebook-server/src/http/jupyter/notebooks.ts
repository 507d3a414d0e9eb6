// Our notebook sessions seen as Jupyter documents: each session is the file
// `<name>.ipynb` at the contents root. Saving a document writes its cells back
// into the session (outputs stay the session's: it is the record of what ran).
import type { Cell, Notebook } from '../../../../srcmd/src/nbformat.ts';
import { newCellFrom } from '../../notebook/cells.ts';
import type { Session } from '../../notebook/session.ts';
import type { SessionRegistry } from '../context.ts';

/** A file name made of the session name; '/' would read as a directory. */
function baseName(session: Session): string {
  return session.name.replace(/[/\\]/g, '-').trim() || session.id;
}

/** path → session for every session (names that collide get the session id appended). */
export function notebookPaths(sessions: SessionRegistry): Map<string, Session> {
  const all = [...sessions.list()].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  const counts = new Map<string, number>();
  for (const s of all) counts.set(baseName(s), (counts.get(baseName(s)) ?? 0) + 1);
  const map = new Map<string, Session>();
  for (const s of all) {
    const base = baseName(s);
    map.set((counts.get(base) ?? 0) > 1 ? `${base}-${s.id}.ipynb` : `${base}.ipynb`, s);
  }
  return map;
}

export function pathOf(sessions: SessionRegistry, session: Session): string {
  for (const [path, s] of notebookPaths(sessions)) if (s === session) return path;
  return `${baseName(session)}.ipynb`;
}

export function sessionAt(sessions: SessionRegistry, path: string): Session | undefined {
  return notebookPaths(sessions).get(normalizePath(path));
}

export function normalizePath(path: string): string {
  return path.replace(/^\/+|\/+$/g, '');
}

/** Session name for a new document at `path` ("runs/teacup.ipynb" → "teacup"). */
export function nameFromPath(path: string): string {
  const file = normalizePath(path).split('/').pop() ?? '';
  return file.replace(/\.ipynb$/i, '').trim() || 'Untitled';
}

/**
 * Makes the session's cells equal the document's: deleted cells go, changed
 * sources are updated, new cells are inserted where they stand. A cell that
 * moved or changed type is deleted and re-added (the session has no move).
 */
export async function applyNotebook(session: Session, nb: Notebook): Promise<void> {
  const target = nb.cells;
  const targetIds = new Set(target.map((c) => c.id));
  const current = new Map(session.cells.map((c) => [c.id, c]));

  for (const id of current.keys()) {
    if (!targetIds.has(id)) {
      await session.deleteCell(id);
      current.delete(id);
    }
  }
  // Keep the cells that are already in order; the rest are re-inserted.
  const order = session.cells.map((c) => c.id);
  let last = -1;
  const keep = new Set<string>();
  for (const cell of target) {
    const was = current.get(cell.id);
    if (!was) continue;
    const at = order.indexOf(cell.id);
    if (at > last && was.cell_type === cell.cell_type) {
      keep.add(cell.id);
      last = at;
    } else {
      await session.deleteCell(cell.id);
    }
  }
  for (const [index, cell] of target.entries()) {
    if (keep.has(cell.id)) {
      const was = current.get(cell.id) as Cell;
      const patch: { source?: string; filename?: string } = {};
      if (was.source !== cell.source) patch.source = cell.source;
      if (
        cell.cell_type === 'code' &&
        was.cell_type === 'code' &&
        cell.filename &&
        cell.filename !== was.filename
      ) {
        patch.filename = cell.filename;
      }
      if (Object.keys(patch).length > 0) await session.updateCell(cell.id, patch);
      continue;
    }
    await session.addCell({ id: cell.id, metadata: cell.metadata, ...newCellFrom(cell) }, { index });
  }
}

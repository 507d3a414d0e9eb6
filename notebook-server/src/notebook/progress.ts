// Progress of a long run is one display updated in place, mime
// `application/vnd.peragus.progress+json` ({label, done, total, failed}), shown
// by peragus_pysd (or any cell code); the session turns each update into an
// experiment.progress event. The notebook owns this format: the layers above
// (pysd/, the UI) read it from here.
import { mimeJson } from '../../../srcmd/src/nbformat.ts';

export const PROGRESS_MIME = 'application/vnd.peragus.progress+json';

export interface ProgressDisplay {
  label: string;
  done: number;
  total: number;
  failed: number;
}

/** The progress payload of an output (display_data or update_display_data content), if it is one. */
export function parseProgress(data: Record<string, unknown> | undefined): ProgressDisplay | undefined {
  const v = mimeJson(data, PROGRESS_MIME) as Partial<ProgressDisplay> | undefined;
  if (!v || typeof v.done !== 'number' || typeof v.total !== 'number') return undefined;
  return { label: String(v.label ?? ''), done: v.done, total: v.total, failed: Number(v.failed ?? 0) };
}

/** {done, total, label} of a peragus progress display, as an experiment.progress body. */
export function progressOf(
  data: Record<string, unknown> | undefined,
): { progress: number; total?: number; message?: string } | undefined {
  const p = parseProgress(data);
  if (!p) return undefined;
  const total = p.total > 0 ? p.total : undefined;
  return {
    progress: p.done,
    ...(total !== undefined ? { total } : {}),
    message: `${p.label || 'runs'}: ${p.done}${total ? `/${total}` : ''}`,
  };
}

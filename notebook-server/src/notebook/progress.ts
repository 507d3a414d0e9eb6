// peragus_pysd shows run progress as one display updated in place; the session
// turns each update into an experiment.progress event.
import { parseProgress } from '../pysd/result.ts';

/** {done, total, label} of a peragus progress display, as an experiment.progress body. */
export function progressOf(
  data: Record<string, unknown>,
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

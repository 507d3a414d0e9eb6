// peragus_pysd shows run progress as one display updated in place; the session
// turns each update into an experiment.progress event.
const PROGRESS_MIME = 'application/vnd.peragus.progress+json';

/** {done, total, label} of a peragus progress display, as an experiment.progress body. */
export function progressOf(
  data: Record<string, unknown>,
): { progress: number; total?: number; message?: string } | undefined {
  const p = data[PROGRESS_MIME] as { done?: unknown; total?: unknown; label?: unknown } | undefined;
  if (!p || typeof p.done !== 'number') return undefined;
  const total = typeof p.total === 'number' && p.total > 0 ? p.total : undefined;
  return {
    progress: p.done,
    ...(total !== undefined ? { total } : {}),
    message: `${typeof p.label === 'string' ? p.label : 'runs'}: ${p.done}${total ? `/${total}` : ''}`,
  };
}

// Plain-text tables and a one-line progress bar for the CLI.
export function formatTable(columns: string[], rows: unknown[][]): string {
  const cell = (v: unknown) =>
    v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  const text = rows.map((r) => r.map(cell));
  const widths = columns.map((c, i) =>
    Math.min(60, Math.max(c.length, ...text.map((r) => (r[i] ?? '').length))),
  );
  const line = (cols: string[]) =>
    cols.map((c, i) => c.slice(0, widths[i]).padEnd(widths[i] ?? 0)).join('  ');
  return [line(columns), widths.map((w) => '-'.repeat(w)).join('  '), ...text.map(line)].join('\n');
}

export function progressBar(done: number, total: number, message: string, width = 30): string {
  const filled = total > 0 ? Math.round((done / total) * width) : 0;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${message}`.slice(0, 120);
}

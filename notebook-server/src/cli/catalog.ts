// `peragus catalog query "SQL"`: read-only SQL over the catalog. Opens the
// catalog read-only, so it works beside a running host only when DuckDB
// allows it; otherwise the error says to use catalog_query through the host.
import { parseArgs } from 'node:util';
import { Catalog } from '../catalog/catalog.ts';
import { peragusHome } from '../runtime/paths.ts';
import { formatTable } from './table.ts';

export async function catalogCommand(argv: string[]): Promise<number | undefined> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { json: { type: 'boolean' }, limit: { type: 'string' } },
  });
  const [sub, sql] = positionals;
  if (sub !== 'query' || !sql) throw new Error('usage: peragus catalog query "SQL" [--json] [--limit N]');
  const catalog = await Catalog.open({ home: peragusHome(), readOnly: true });
  try {
    const result = await catalog.query(sql, values.limit ? { rowLimit: Number(values.limit) } : {});
    if (values.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } else {
      const cols = result.columns.map((c) => c.name);
      const rows = result.rows.map((r) =>
        Array.isArray(r) ? r : cols.map((c) => (r as Record<string, unknown>)[c]),
      );
      process.stdout.write(
        `${formatTable(cols, rows)}\n(${result.row_count} rows${result.truncated ? ', truncated' : ''})\n`,
      );
    }
    return 0;
  } finally {
    catalog.close();
  }
}

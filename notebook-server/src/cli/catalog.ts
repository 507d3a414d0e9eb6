// `peragus catalog query "SQL"`: read-only SQL over the catalog. With a host
// running on this home it asks the host (catalog_query over its MCP endpoint:
// the host holds the catalog open); otherwise it opens the catalog read-only.
import { parseArgs } from 'node:util';
import { Catalog } from '../catalog/catalog.ts';
import { connectHost } from '../hostlink/client.ts';
import { findHostOrSay } from '../hostlink/find.ts';
import type { CliContext } from './context.ts';
import { formatTable } from './table.ts';

interface QueryResult {
  columns: { name: string }[];
  rows: unknown[];
  row_count: number;
  truncated: boolean;
}

async function query(sql: string, rowLimit: number | undefined, cli: CliContext): Promise<QueryResult> {
  const home = cli.config.home;
  const address = await findHostOrSay(home, cli.log);
  if (address) {
    const client = await connectHost(address);
    try {
      const args = { sql, ...(rowLimit !== undefined ? { row_limit: rowLimit } : {}) };
      return (await client.call('catalog_query', args)) as unknown as QueryResult;
    } finally {
      await client.close();
    }
  }
  const catalog = await Catalog.open({ home, readOnly: true });
  try {
    return await catalog.query(sql, rowLimit !== undefined ? { rowLimit } : {});
  } finally {
    catalog.close();
  }
}

export async function catalogCommand(argv: string[], cli: CliContext): Promise<number | undefined> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { json: { type: 'boolean' }, limit: { type: 'string' } },
  });
  const [sub, sql] = positionals;
  if (sub !== 'query' || !sql)
    throw new Error('usage: peragus catalog query "SQL" [--json] [--limit N] (see peragus catalog --help)');
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1))
    throw new Error(`--limit ${values.limit}: give a whole number ≥ 1`);
  const result = await query(sql, limit, cli);
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
}

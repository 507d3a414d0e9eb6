// One in-process DuckDB for the workbench's charts: it reads only files the
// catalog names (artifact blobs in the results store), never a client path.
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';

let conn: Promise<DuckDBConnection> | undefined;

export function duck(): Promise<DuckDBConnection> {
  conn ??= (async () => {
    const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
    return instance.connect();
  })();
  return conn;
}

export const sqlString = (s: string): string => `'${s.replace(/'/g, "''")}'`;
export const sqlIdent = (s: string): string => `"${s.replace(/"/g, '""')}"`;

/** read_parquet(...) or read_csv_auto(...) of a results file by its media type. */
export function reader(file: string, mediaType: string): string | null {
  if (mediaType === 'application/vnd.apache.parquet') return `read_parquet(${sqlString(file)})`;
  if (mediaType === 'text/csv') return `read_csv_auto(${sqlString(file)})`;
  return null;
}

export async function rows(sql: string): Promise<Record<string, unknown>[]> {
  const c = await duck();
  return (await c.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
}

export async function columns(source: string): Promise<{ name: string; type: string }[]> {
  return (await rows(`DESCRIBE SELECT * FROM ${source}`)).map((r) => ({
    name: String(r.column_name),
    type: String(r.column_type),
  }));
}

export const NUMERIC =
  /^(DOUBLE|FLOAT|REAL|DECIMAL.*|BIGINT|INTEGER|SMALLINT|TINYINT|HUGEINT|UBIGINT|UINTEGER)$/i;

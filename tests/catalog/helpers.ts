// Shared fixtures for the catalog tests: temp PERAGUS_HOME dirs and small
// Parquet/CSV files written with a scratch (unsandboxed) DuckDB instance.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';

export async function tempDir(
  prefix = 'peragus-catalog-',
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

let scratch: Promise<DuckDBConnection> | undefined;
function scratchConn(): Promise<DuckDBConnection> {
  scratch ??= DuckDBInstance.create(':memory:', { threads: '1' }).then((i) => i.connect());
  return scratch;
}

/** Writes `select` (a SQL query) to a Parquet file. */
export async function writeParquet(path: string, select: string): Promise<string> {
  const conn = await scratchConn();
  await conn.run(`COPY (${select}) TO '${path.replaceAll("'", "''")}' (FORMAT parquet)`);
  return path;
}

/** A small SIR-like time series whose peak infected is `peak` at t = 50. */
export function sirSelect(peak: number, rows = 101): string {
  return `SELECT range::DOUBLE AS time,
    1000 - range * 5.0 AS "Susceptible",
    ${peak} * exp(-((range - 50) ^ 2) / 200.0) AS "Infected",
    range * 5.0 AS "Recovered"
  FROM range(${rows})`;
}

export async function writeText(path: string, text: string): Promise<string> {
  await writeFile(path, text);
  return path;
}

// Time series of a run / sweep for the UI's charts, read from the runs table an
// experiment wrote into its session's work dir (Parquet or CSV, long format:
// run_id, time, variables…). DuckDB reads the file; the browser gets one line
// per run, thinned to a few thousand points.
//
// No client-supplied path reaches SQL: the host opens the file itself (no link
// followed, confine/), and DuckDB reads that open descriptor by its
// /proc/self/fd/N name, which has no glob characters and names that file only.
import { extname } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { withFileInside } from '../confine/fs.ts';
import { HttpError } from './errors.ts';

export interface SeriesRequest {
  workDir: string;
  path: string;
  variable?: string;
  /** Columns whose values name each run (e.g. the swept parameters). */
  labels?: string[];
  maxRuns?: number;
  maxPoints?: number;
}

export interface SeriesResponse {
  title: string;
  x: { name: string; values: number[] };
  series: { name: string; values: (number | null)[] }[];
  /** Numeric columns that can be plotted (variables of the model). */
  variables: string[];
  run_count: number;
  truncated: boolean;
}

let conn: Promise<DuckDBConnection> | undefined;

function connection(): Promise<DuckDBConnection> {
  conn ??= (async () => {
    const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
    const c = await instance.connect();
    // Descriptor names are reused by later files: never serve a cached copy by name.
    await c.run('SET enable_external_file_cache = false');
    return c;
  })();
  return conn;
}

const quote = (id: string) => `"${id.replace(/"/g, '""')}"`;
const NUMERIC = /^(DOUBLE|FLOAT|REAL|DECIMAL.*|BIGINT|INTEGER|SMALLINT|TINYINT|HUGEINT|UBIGINT|UINTEGER)$/i;

const PINNED = /^\/proc\/self\/fd\/\d+$/;

export async function readSeries(req: SeriesRequest): Promise<SeriesResponse> {
  const where = "the session's work dir";
  return withFileInside(req.workDir, req.path, { what: 'path', where, mount: req.workDir }, (file) => {
    const ext = extname(file.rel).toLowerCase();
    const reader = ext === '.parquet' ? 'read_parquet' : ext === '.csv' ? 'read_csv_auto' : undefined;
    if (!reader)
      throw new HttpError(400, `cannot plot ${ext || 'this'} files (Parquet or CSV only)`, 'unsupported');
    if (!PINNED.test(file.pinned)) throw new Error(`unexpected descriptor path ${file.pinned}`);
    return query(req, `${reader}('${file.pinned}')`);
  });
}

async function query(req: SeriesRequest, source: string): Promise<SeriesResponse> {
  const c = await connection();
  const described = await c.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`);
  const cols = described
    .getRowObjectsJS()
    .map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
  const names = new Set(cols.map((col) => col.name));
  if (!names.has('time')) throw new HttpError(400, 'the table has no "time" column', 'unsupported');
  const hasRun = names.has('run_id');
  const skip = new Set(['run_id', 'time', 'scenario', ...(req.labels ?? [])]);
  const variables = cols
    .filter((col) => NUMERIC.test(col.type) && !skip.has(col.name))
    .map((col) => col.name);
  const variable = req.variable ?? variables[0];
  if (!variable || !names.has(variable)) {
    throw new HttpError(
      400,
      `unknown variable ${JSON.stringify(req.variable)}; one of: ${variables.join(', ')}`,
      'bad_variable',
    );
  }
  const labels = (req.labels ?? []).filter((l) => names.has(l));
  const maxRuns = Math.min(req.maxRuns ?? 50, 500);
  const run = hasRun ? 'run_id' : '0';

  const count = await c.runAndReadAll(`SELECT count(DISTINCT ${run}) AS n FROM ${source}`);
  const runCount = Number(count.getRowObjectsJS()[0]?.n ?? 0);
  const sql = `SELECT ${run} AS run, time, ${quote(variable)} AS v${labels.map((l, i) => `, ${quote(l)} AS l${i}`).join('')}
    FROM ${source} WHERE ${run} IN (SELECT DISTINCT ${run} FROM ${source} ORDER BY 1 LIMIT ${maxRuns})
    ORDER BY run, time`;
  const rows = (await c.runAndReadAll(sql)).getRowObjectsJS();

  const byRun = new Map<number, { name: string; points: Map<number, number | null> }>();
  const times = new Set<number>();
  for (const r of rows) {
    const id = Number(r.run);
    let entry = byRun.get(id);
    if (!entry) {
      const label = labels.map((l, i) => `${l}=${fmt(r[`l${i}`])}`).join(', ');
      entry = { name: label || (hasRun ? `run ${id}` : variable), points: new Map() };
      byRun.set(id, entry);
    }
    const t = Number(r.time);
    times.add(t);
    const v = r.v === null || r.v === undefined ? null : Number(r.v);
    entry.points.set(t, v !== null && Number.isFinite(v) ? v : null);
  }
  let x = [...times].sort((a, b) => a - b);
  const maxPoints = req.maxPoints ?? 2000;
  if (x.length > maxPoints) {
    const step = Math.ceil(x.length / maxPoints);
    x = x.filter((_, i) => i % step === 0 || i === x.length - 1);
  }
  return {
    title: variable,
    x: { name: 'time', values: x },
    series: [...byRun.values()].map((e) => ({ name: e.name, values: x.map((t) => e.points.get(t) ?? null) })),
    variables,
    run_count: runCount,
    truncated: runCount > byRun.size,
  };
}

function fmt(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(4);
  return String(v);
}

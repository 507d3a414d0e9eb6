// Shared helpers of the PySD tests: a real PySD kernel, tool-style calls
// (builder → cell → parser), reading result tables back, canonical outputs.
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KernelClient } from '../../notebook-server/src/kernel/client.ts';
import { startKernel } from '../../notebook-server/src/kernel/start.ts';
import { ZYGOTE_ENV } from '../../notebook-server/src/kernel/zygote.ts';
import { type PysdFunction, type PysdResult, parseExecution } from '../../notebook-server/src/pysd/result.ts';

export async function pysdKernel(workDir: string): Promise<KernelClient> {
  return startKernel({
    workDir,
    // Translations are cached by file hash: share them across test files and reruns.
    env: { PERAGUS_PYSD_CACHE: join(tmpdir(), 'peragus-pysd-test-cache') },
    readyTimeoutMs: 120_000,
  });
}

/**
 * A PySD kernel forked by the zygote listening on `zygoteSocket`, or started cold (null) whatever
 * the environment says; the zygote setting of this process is restored after the start.
 */
export async function pysdKernelFrom(zygoteSocket: string | null, workDir: string): Promise<KernelClient> {
  const before = process.env[ZYGOTE_ENV];
  if (zygoteSocket === null) delete process.env[ZYGOTE_ENV];
  else process.env[ZYGOTE_ENV] = zygoteSocket;
  try {
    return await pysdKernel(workDir);
  } finally {
    if (before === undefined) delete process.env[ZYGOTE_ENV];
    else process.env[ZYGOTE_ENV] = before;
  }
}

/** Runs a generated cell and parses its peragus_pysd result (throws PysdCellError on a Python error). */
export async function runCell<T = Record<string, unknown>>(
  kernel: KernelClient,
  code: string,
  expected?: PysdFunction,
  timeoutMs = 600_000,
): Promise<T> {
  const r = await kernel.execute(code, { timeoutMs });
  return (parseExecution<T>(r, expected) as PysdResult<T>).result;
}

/** Evaluates Python code that prints one JSON document, returns it parsed. */
export async function pyJson<T>(kernel: KernelClient, code: string): Promise<T> {
  const r = await kernel.execute(code, { timeoutMs: 300_000 });
  if (r.status !== 'ok') throw new Error(`${r.error?.ename}: ${r.error?.evalue}`);
  const text = r.outputs
    .filter((o) => o.output_type === 'stream' && o.name === 'stdout')
    .map((o) => (o.output_type === 'stream' ? (Array.isArray(o.text) ? o.text.join('') : o.text) : ''))
    .join('');
  return JSON.parse(text) as T;
}

export interface Table {
  columns: Record<string, (number | null)[]>;
}

/** Columns of a results file (parquet/csv/netcdf), read in the kernel with pyarrow/netCDF4. */
export async function readTable(kernel: KernelClient, path: string, columns?: string[]): Promise<Table> {
  const args = JSON.stringify({ path, columns: columns ?? null });
  return pyJson<Table>(
    kernel,
    `import json as _j, math as _m
_a = _j.loads(${JSON.stringify(args)})
from peragus_pysd.plots import _read_columns as _rc
import pyarrow.parquet as _pq
_cols = _a["columns"] or _pq.ParquetFile(_a["path"]).schema_arrow.names
_t = _rc(__import__("pathlib").Path(_a["path"]), _cols)
print(_j.dumps({"columns": {k: [None if (isinstance(x, float) and not _m.isfinite(x)) else x for x in v.tolist()] for k, v in _t.items()}}))`,
  );
}

export interface Canonical {
  columns: string[];
  rows: (number | null)[][];
}

function splitLine(line: string, sep: string): string[] {
  if (sep === '\t') return line.split('\t').map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of line) {
    if (ch === '"') quoted = !quoted;
    else if (ch === sep && !quoted) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  out.push(cur.trim());
  return out;
}

/** A canonical output file (output.csv or output.tab): time in the first column. */
export function readCanonical(file: string): Canonical {
  const text = readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  const lines = text.split(/\r\n|\r|\n/).filter((l) => l.trim().length > 0);
  const sep = file.endsWith('.tab') ? '\t' : ',';
  const header = splitLine(lines[0] ?? '', sep);
  const rows = lines.slice(1).map((l) =>
    splitLine(l, sep).map((c) => {
      const v = Number(c);
      return c === '' || Number.isNaN(v) ? null : v;
    }),
  );
  return { columns: header, rows };
}

export interface Comparison {
  pass: boolean;
  compared: number;
  rowsMatched: number;
  worst?: { column: string; time: number; expected: number; actual: number };
  reason?: string;
}

const norm = (s: string) =>
  s
    .replace(/\s+/g, ' ')
    .replace(/\s*([[\],])\s*/g, '$1')
    .trim()
    .toLowerCase();

/** |actual - expected| <= atol + rtol * |expected| for every column present in both, at matching times. */
export function compareToCanonical(canonical: Canonical, ours: Table, rtol = 1e-5, atol = 1e-5): Comparison {
  const time = ours.columns.time ?? [];
  const byTime = new Map<string, number>();
  time.forEach((t, i) => {
    if (t !== null) byTime.set(t.toPrecision(10), i);
  });
  const ourCols = new Map(Object.keys(ours.columns).map((c) => [norm(c), c]));
  let compared = 0;
  let rowsMatched = 0;
  let worst: Comparison['worst'];
  let worstExcess = 0;
  let pass = true;
  const pairs = canonical.columns
    .map((c, j) => ({ c, j, ours: ourCols.get(norm(c)) }))
    .filter((p) => p.j > 0 && p.ours && p.ours !== 'time' && p.ours !== 'run_id');
  for (const row of canonical.rows) {
    const t = row[0];
    if (t === null || t === undefined) continue;
    const i = byTime.get(t.toPrecision(10));
    if (i === undefined) continue;
    rowsMatched++;
    for (const p of pairs) {
      const expected = row[p.j];
      const actual = ours.columns[p.ours as string]?.[i];
      if (expected === null || expected === undefined || actual === null || actual === undefined) continue;
      compared++;
      const excess = Math.abs(actual - expected) - (atol + rtol * Math.abs(expected));
      if (excess > 0) {
        pass = false;
        if (excess > worstExcess) {
          worstExcess = excess;
          worst = { column: p.c, time: t, expected, actual };
        }
      }
    }
  }
  if (compared === 0) return { pass: false, compared, rowsMatched, reason: 'no common columns/times' };
  return { pass, compared, rowsMatched, worst };
}

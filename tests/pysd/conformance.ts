// Conformance against SDXorg's test-model suite: which models to try, and a
// single run of each through the MCP tools (load → run → read back → compare).
import { cpSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Json, TestHost } from '../helpers/host.ts';
import { compareToCanonical, readCanonical, type Table } from './helpers.ts';

export interface Candidate {
  name: string;
  dir: string;
  mdl: string;
  output: string;
}

/** Vensim test models with a canonical output (output.csv or output.tab), sorted by folder name. */
export function conformanceCandidates(suite: string): Candidate[] {
  const root = join(suite, 'tests');
  const out: Candidate[] = [];
  for (const name of readdirSync(root).sort()) {
    const dir = join(root, name);
    const output = ['output.csv', 'output.tab'].map((f) => join(dir, f)).find((f) => existsSync(f));
    if (!output) continue;
    const mdls = readdirSync(dir).filter((f) => f.endsWith('.mdl'));
    const mdl =
      mdls.length === 1
        ? mdls[0]
        : (mdls.find((f) => f === `test_${name}.mdl`) ?? mdls.find((f) => f === `${name}.mdl`));
    if (mdl) out.push({ name, dir, mdl, output });
  }
  return out;
}

export type Outcome = 'pass' | 'fail' | 'translate-error' | 'run-error';

export interface ConformanceRow {
  model: string;
  outcome: Outcome;
  detail: string;
}

/** A Parquet results file as columns (numbers; NaN/inf as null), read with DuckDB. */
export async function readParquetTable(path: string): Promise<Table> {
  const db = await (await DuckDBInstance.create(':memory:')).connect();
  try {
    const reader = await db.runAndReadAll(`SELECT * FROM read_parquet('${path.replaceAll("'", "''")}')`);
    const names = reader.columnNames();
    const cols = reader.getColumnsJS();
    const columns: Table['columns'] = {};
    names.forEach((name, i) => {
      columns[name] = (cols[i] ?? []).map((v) => {
        const n = typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : Number.NaN;
        return Number.isFinite(n) ? n : null;
      });
    });
    return { columns };
  } finally {
    db.closeSync();
  }
}

/**
 * One model through the MCP tools, as an agent would: its folder is copied into
 * the session's work dir (data files travel with it), then pysd_model_load and
 * pysd_experiment_run {type: single}; the runs file is compared to the canonical output.
 */
export async function checkModel(
  t: TestHost,
  sessionId: string,
  workDir: string,
  c: Candidate,
): Promise<ConformanceRow> {
  const rel = join('conformance', c.name);
  cpSync(c.dir, join(workDir, rel), { recursive: true });
  const call = async (name: string, args: Json): Promise<Json | string> => {
    const r = await t.client.callTool({ name, arguments: args }, undefined, { timeout: 600_000 });
    if (r.isError) return (r.content as { text?: string }[]).map((x) => x.text ?? '').join(' ');
    return r.structuredContent as Json;
  };
  const loaded = await call('pysd_model_load', {
    session_id: sessionId,
    source: join(rel, c.mdl),
    name: `conf-${c.name}`,
  });
  if (typeof loaded === 'string')
    return { model: c.name, outcome: 'translate-error', detail: loaded.slice(0, 120) };
  const ran = await call('pysd_experiment_run', {
    session_id: sessionId,
    model_id: loaded.model_id,
    experiment: { type: 'single' },
    name: `conf-${c.name}`,
  });
  if (typeof ran === 'string') return { model: c.name, outcome: 'run-error', detail: ran.slice(0, 120) };
  const s = ran as {
    artifacts: { role: string; path: string }[];
    failed_runs: number;
    errors: { error: string }[];
  };
  if (s.failed_runs > 0) {
    return { model: c.name, outcome: 'run-error', detail: (s.errors[0]?.error ?? '').slice(0, 120) };
  }
  const runs = s.artifacts.find((a) => a.role === 'runs')?.path ?? '';
  const cmp = compareToCanonical(readCanonical(c.output), await readParquetTable(join(workDir, runs)));
  const detail = cmp.reason
    ? cmp.reason
    : cmp.worst
      ? `${cmp.compared} values; worst ${cmp.worst.column} @t=${cmp.worst.time}: expected ${cmp.worst.expected}, got ${cmp.worst.actual}`
      : `${cmp.compared} values at ${cmp.rowsMatched} times`;
  return { model: c.name, outcome: cmp.pass ? 'pass' : 'fail', detail };
}

export function formatTable(rows: ConformanceRow[]): string {
  const w = Math.max(5, ...rows.map((r) => r.model.length));
  const lines = [
    `${'model'.padEnd(w)}  ${'result'.padEnd(15)}  detail`,
    `${'-'.repeat(w)}  ${'-'.repeat(15)}  ------`,
  ];
  for (const r of rows)
    lines.push(`${r.model.padEnd(w)}  ${r.outcome.padEnd(15)}  ${r.detail.replace(/\s+/g, ' ')}`);
  const pass = rows.filter((r) => r.outcome === 'pass').length;
  lines.push('', `${pass} of ${rows.length} models match within rtol = atol = 1e-5`);
  return lines.join('\n');
}

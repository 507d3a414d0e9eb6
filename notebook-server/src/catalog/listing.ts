// experiment_list's read: compact rows, newest first (created_at, then id,
// descending), filtered by plan, status and time, paged by an opaque cursor
// (keyset on the creation time in microseconds and the id, so experiments
// added while a client pages never shift or repeat rows).
import { type DuckDBValue, listValue } from '@duckdb/node-api';
import type { CatalogDb } from './db.ts';
import { CatalogError } from './errors.ts';
import type { ExperimentStatus } from './schemas.ts';
import { toIso, toNumber } from './values.ts';

export interface ExperimentPageQuery {
  status?: ExperimentStatus | ExperimentStatus[] | undefined;
  plan_id?: string | undefined;
  created_after?: string | undefined;
  created_before?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface ExperimentRow {
  experiment_id: string;
  status: ExperimentStatus;
  plan_id: string | null;
  created_at: string;
  finished_at: string | null;
  metrics: Record<string, number | null>;
  artifact_count: number;
  error?: string;
}

interface Cursor {
  us: string;
  id: string;
}

const ERROR_CHARS = 300;

function decodeCursor(cursor: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Cursor;
    if (typeof c.us === 'string' && /^-?\d+$/.test(c.us) && typeof c.id === 'string') return c;
  } catch {
    // fall through
  }
  throw new CatalogError(
    'invalid_input',
    'invalid cursor: pass next_cursor from the previous experiment_list page unchanged (omit it for the first page)',
  );
}

const encodeCursor = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString('base64url');

export async function readExperimentPage(
  db: CatalogDb,
  q: ExperimentPageQuery,
): Promise<{ experiments: ExperimentRow[]; total: number; next_cursor?: string }> {
  const where: string[] = [];
  const params: DuckDBValue[] = [];
  const p = (v: DuckDBValue) => `$${params.push(v)}`;
  if (q.status !== undefined) {
    where.push(
      `list_contains(${p(listValue(Array.isArray(q.status) ? q.status : [q.status]))}::VARCHAR[], status)`,
    );
  }
  if (q.plan_id !== undefined) where.push(`plan_id = ${p(q.plan_id)}`);
  if (q.created_after !== undefined) where.push(`created_at >= ${p(q.created_after)}::TIMESTAMPTZ`);
  if (q.created_before !== undefined) where.push(`created_at < ${p(q.created_before)}::TIMESTAMPTZ`);
  const filterSql = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const total =
    toNumber((await db.rows(`SELECT count(*) AS n FROM experiments ${filterSql}`, params))[0]?.n) ?? 0;
  if (q.cursor !== undefined) {
    const c = decodeCursor(q.cursor);
    const us = p(BigInt(c.us));
    where.push(
      `(epoch_us(created_at) < ${us} OR (epoch_us(created_at) = ${us} AND experiment_id < ${p(c.id)}))`,
    );
  }
  const pageSql = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const rows = await db.rows(
    `WITH e AS (
       SELECT experiment_id, status, plan_id, created_at, finished_at, error, epoch_us(created_at) AS us
       FROM experiments ${pageSql}
       ORDER BY us DESC, experiment_id DESC LIMIT ${q.limit + 1}
     )
     SELECT e.*, coalesce(a.n, 0) AS artifact_count, m.names, m.vals
     FROM e
     LEFT JOIN (SELECT experiment_id, count(*) AS n FROM artifacts
                WHERE experiment_id IN (SELECT experiment_id FROM e) GROUP BY ALL) a USING (experiment_id)
     LEFT JOIN (SELECT experiment_id, list(name ORDER BY name) AS names, list(value ORDER BY name) AS vals
                FROM metrics WHERE experiment_id IN (SELECT experiment_id FROM e) GROUP BY ALL) m USING (experiment_id)
     ORDER BY e.us DESC, e.experiment_id DESC`,
    params,
  );
  const more = rows.length > q.limit;
  const page = rows.slice(0, q.limit);
  const experiments = page.map((r): ExperimentRow => {
    const names = (r.names as string[] | null) ?? [];
    const vals = (r.vals as unknown[] | null) ?? [];
    const error = r.error === null || r.error === undefined ? undefined : String(r.error);
    return {
      experiment_id: String(r.experiment_id),
      status: String(r.status) as ExperimentStatus,
      plan_id: r.plan_id === null ? null : String(r.plan_id),
      created_at: toIso(r.created_at) ?? '',
      finished_at: toIso(r.finished_at),
      metrics: Object.fromEntries(names.map((n, i) => [n, toNumber(vals[i])])),
      artifact_count: toNumber(r.artifact_count) ?? 0,
      ...(error ? { error: error.length > ERROR_CHARS ? `${error.slice(0, ERROR_CHARS)}…` : error } : {}),
    };
  });
  const last = page.at(-1);
  return {
    experiments,
    total,
    ...(more && last
      ? { next_cursor: encodeCursor({ us: String(last.us), id: String(last.experiment_id) }) }
      : {}),
  };
}

/** Experiment ids (newest first) or plan ids starting with a prefix, for completion/complete. */
export async function completeIds(
  db: CatalogDb,
  column: 'experiment_id' | 'plan_id',
  prefix: string,
  limit = 100,
): Promise<{ values: string[]; total: number }> {
  const rows = await db.rows(
    `SELECT ${column} AS v, max(created_at) AS t FROM experiments
     WHERE ${column} IS NOT NULL AND starts_with(${column}, $1) GROUP BY 1 ORDER BY t DESC, v`,
    [prefix],
  );
  return { values: rows.slice(0, limit).map((r) => String(r.v)), total: rows.length };
}

// Read side of the catalog: typed records for the library API and the MCP
// resources (experiment://{id}/summary, /artifacts, /metrics).
import { type DuckDBValue, listValue } from '@duckdb/node-api';
import type { ArtifactRef } from '../artifacts/index.ts';
import type { CatalogDb, Row } from './db.ts';
import { type ExperimentFilter, ExperimentFilterSchema, type ExperimentStatus } from './schemas.ts';
import { parseJsonColumn, toIso, toNumber, toText } from './values.ts';

export interface ExperimentRecord {
  experiment_id: string;
  plan_id: string | null;
  status: ExperimentStatus;
  config: Record<string, unknown> | null;
  model_sha256: string | null;
  image_digest: string | null;
  seeds: number | number[] | null;
  container_id: string | null;
  /** The cluster node the experiment ran on (swarm runtime); null on one host. */
  node: string | null;
  session_id: string | null;
  started_at: string | null;
  finished_at: string | null;
  error: string | null;
  /** sha256 identifying the registered result; null until one is registered. */
  result_digest: string | null;
  registered_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface ArtifactRecord extends ArtifactRef {
  /** Absolute path of the blob in the results store. */
  store_path: string;
}

export type MetricsRecord = Record<string, number | null>;

export interface ExperimentSummary extends ExperimentRecord {
  metrics: MetricsRecord;
  artifact_count: number;
  artifact_bytes: number;
}

export interface LineageEdge {
  parent_kind: 'experiment' | 'container' | 'session';
  parent_id: string;
  child_kind: 'container' | 'session' | 'artifact';
  child_id: string;
  recorded_at: string;
}

export function toExperimentRecord(row: Row): ExperimentRecord {
  return {
    experiment_id: String(row.experiment_id),
    plan_id: toText(row.plan_id),
    status: String(row.status) as ExperimentStatus,
    config: parseJsonColumn(row.config) as Record<string, unknown> | null,
    model_sha256: toText(row.model_sha256),
    image_digest: toText(row.image_digest),
    seeds: parseJsonColumn(row.seeds) as number | number[] | null,
    container_id: toText(row.container_id),
    node: toText(row.node),
    session_id: toText(row.session_id),
    started_at: toIso(row.started_at),
    finished_at: toIso(row.finished_at),
    error: toText(row.error),
    result_digest: toText(row.result_digest),
    registered_at: toIso(row.registered_at),
    created_at: toIso(row.created_at) ?? '',
    updated_at: toIso(row.updated_at) ?? '',
  };
}

export const EXPERIMENT_COLUMNS = `experiment_id, plan_id, status, config::VARCHAR AS config, model_sha256, image_digest,
  seeds::VARCHAR AS seeds, container_id, node, session_id, started_at, finished_at, error, result_digest,
  registered_at, created_at, updated_at`;

export async function readExperiment(db: CatalogDb, id: string): Promise<ExperimentRecord | null> {
  const rows = await db.rows(`SELECT ${EXPERIMENT_COLUMNS} FROM experiments WHERE experiment_id = $1`, [id]);
  return rows[0] ? toExperimentRecord(rows[0]) : null;
}

/** Where an experiment stands: its status and result digest (null when unknown). */
export type ExperimentState = Pick<ExperimentRecord, 'status' | 'result_digest'>;

/** Where each experiment of a plan stands, by experiment id: one query for a whole plan run. */
export async function readPlanStates(db: CatalogDb, planId: string): Promise<Map<string, ExperimentState>> {
  const rows = await db.rows(
    'SELECT experiment_id, status, result_digest FROM experiments WHERE plan_id = $1',
    [planId],
  );
  return new Map(
    rows.map((row) => [
      String(row.experiment_id),
      { status: String(row.status) as ExperimentStatus, result_digest: toText(row.result_digest) },
    ]),
  );
}

/**
 * Only the two columns a "done already?" check needs: about half the CPU of the whole row
 * (`readExperiment` casts JSON and converts five timestamps).
 */
export async function readExperimentState(db: CatalogDb, id: string): Promise<ExperimentState | null> {
  const rows = await db.rows('SELECT status, result_digest FROM experiments WHERE experiment_id = $1', [id]);
  const row = rows[0];
  if (!row) return null;
  return {
    status: String(row.status) as ExperimentStatus,
    result_digest: toText(row.result_digest),
  };
}

export async function readArtifacts(db: CatalogDb, id: string): Promise<ArtifactRecord[]> {
  const rows = await db.rows(
    'SELECT path, sha256, bytes, media_type, store_path FROM artifacts WHERE experiment_id = $1 ORDER BY path',
    [id],
  );
  return rows.map((r) => ({
    path: String(r.path),
    sha256: String(r.sha256),
    bytes: toNumber(r.bytes) ?? 0,
    media_type: String(r.media_type),
    store_path: String(r.store_path),
  }));
}

export async function readMetrics(db: CatalogDb, id: string): Promise<MetricsRecord> {
  const rows = await db.rows('SELECT name, value FROM metrics WHERE experiment_id = $1 ORDER BY name', [id]);
  return Object.fromEntries(rows.map((r) => [String(r.name), toNumber(r.value)]));
}

export async function readLineage(db: CatalogDb, id: string): Promise<LineageEdge[]> {
  const rows = await db.rows(
    `SELECT parent_kind, parent_id, child_kind, child_id, recorded_at FROM lineage
     WHERE experiment_id = $1 ORDER BY recorded_at, parent_kind, child_kind, child_id`,
    [id],
  );
  return rows.map((r) => ({
    parent_kind: String(r.parent_kind) as LineageEdge['parent_kind'],
    parent_id: String(r.parent_id),
    child_kind: String(r.child_kind) as LineageEdge['child_kind'],
    child_id: String(r.child_id),
    recorded_at: toIso(r.recorded_at) ?? '',
  }));
}

/** Experiments matching the filter (oldest first), each with its metrics and artifact totals. */
export async function readSummaries(
  db: CatalogDb,
  filter: ExperimentFilter = {},
): Promise<{ experiments: ExperimentSummary[]; total: number }> {
  const f = ExperimentFilterSchema.parse(filter);
  const where: string[] = [];
  const params: DuckDBValue[] = [];
  if (f.status !== undefined) {
    const list = Array.isArray(f.status) ? f.status : [f.status];
    where.push(`list_contains($${params.push(listValue(list))}::VARCHAR[], status)`);
  }
  if (f.plan_id !== undefined) where.push(`plan_id = $${params.push(f.plan_id)}`);
  if (f.experiment_ids !== undefined) {
    where.push(`list_contains($${params.push(listValue(f.experiment_ids))}::VARCHAR[], experiment_id)`);
  }
  const whereSql = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const total =
    toNumber((await db.rows(`SELECT count(*) AS n FROM experiments ${whereSql}`, params))[0]?.n) ?? 0;
  const rows = await db.rows(
    `WITH e AS (
       SELECT ${EXPERIMENT_COLUMNS} FROM experiments ${whereSql}
       ORDER BY created_at, experiment_id LIMIT ${f.limit} OFFSET ${f.offset}
     )
     SELECT e.*, coalesce(a.n, 0) AS artifact_count, coalesce(a.b, 0) AS artifact_bytes, m.names, m.vals
     FROM e
     LEFT JOIN (SELECT experiment_id, count(*) AS n, sum(bytes) AS b FROM artifacts
                WHERE experiment_id IN (SELECT experiment_id FROM e) GROUP BY ALL) a USING (experiment_id)
     LEFT JOIN (SELECT experiment_id, list(name ORDER BY name) AS names, list(value ORDER BY name) AS vals
                FROM metrics WHERE experiment_id IN (SELECT experiment_id FROM e) GROUP BY ALL) m USING (experiment_id)
     ORDER BY e.created_at, e.experiment_id`,
    params,
  );
  const experiments = rows.map((r) => {
    const names = (r.names as string[] | null) ?? [];
    const vals = (r.vals as unknown[] | null) ?? [];
    return {
      ...toExperimentRecord(r),
      metrics: Object.fromEntries(names.map((n, i) => [n, toNumber(vals[i])])),
      artifact_count: toNumber(r.artifact_count) ?? 0,
      artifact_bytes: toNumber(r.artifact_bytes) ?? 0,
    };
  });
  return { experiments, total };
}

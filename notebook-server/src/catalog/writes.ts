// Row writers of the catalog: every function runs inside the caller's
// transaction (CatalogDb.write) on the writer connection.
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type { PreparedArtifact } from './artifacts.ts';
import { EXPERIMENT_COLUMNS, type ExperimentRecord, toExperimentRecord } from './records.ts';

export type ExperimentRow = Omit<ExperimentRecord, 'created_at' | 'updated_at'> & {
  created_at: string | null;
};

export const EXPERIMENT_FIELDS = [
  'plan_id',
  'config',
  'model_sha256',
  'image_digest',
  'seeds',
  'container_id',
  'node',
  'session_id',
  'started_at',
  'finished_at',
  'error',
] as const;

type Fields = Partial<Record<(typeof EXPERIMENT_FIELDS)[number], unknown>>;

/** Given fields overwrite stored ones; missing ones keep what is stored. */
export function mergeFields(existing: ExperimentRecord | undefined, given: Fields): ExperimentRow {
  const out: Record<string, unknown> = { created_at: existing?.created_at ?? null };
  for (const f of EXPERIMENT_FIELDS) out[f] = given[f] ?? existing?.[f] ?? null;
  return out as ExperimentRow;
}

export async function selectExperiment(
  conn: DuckDBConnection,
  id: string,
): Promise<ExperimentRecord | undefined> {
  const r = await conn.runAndReadAll(
    `SELECT ${EXPERIMENT_COLUMNS} FROM experiments WHERE experiment_id = $1`,
    [id],
  );
  const row = r.getRowObjectsJS()[0];
  return row ? toExperimentRecord(row) : undefined;
}

export async function writeExperimentRow(
  conn: DuckDBConnection,
  row: ExperimentRow,
  exists: boolean,
  now: string,
) {
  const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));
  const values: DuckDBValue[] = [
    row.experiment_id,
    row.plan_id,
    row.status,
    json(row.config),
    row.model_sha256,
    row.image_digest,
    json(row.seeds),
    row.container_id,
    row.session_id,
    row.node,
    row.started_at,
    row.finished_at,
    row.error,
    row.result_digest,
    row.registered_at,
    row.created_at ?? now,
    now,
  ];
  // Column i+2 takes parameter $(i+2), cast to the column's type.
  const cols = [
    'plan_id',
    'status',
    'config::JSON',
    'model_sha256',
    'image_digest',
    'seeds::JSON',
    'container_id',
    'session_id',
    'node',
    'started_at::TIMESTAMPTZ',
    'finished_at::TIMESTAMPTZ',
    'error',
    'result_digest',
    'registered_at::TIMESTAMPTZ',
    'created_at::TIMESTAMPTZ',
    'updated_at::TIMESTAMPTZ',
  ].map((c, i) => {
    const [name, cast] = c.split('::');
    return { name: name as string, value: `$${i + 2}${cast ? `::${cast}` : ''}` };
  });
  if (exists) {
    const set = cols.map((c) => `${c.name} = ${c.value}`).join(', ');
    await conn.run(`UPDATE experiments SET ${set} WHERE experiment_id = $1`, values);
  } else {
    const names = cols.map((c) => c.name).join(', ');
    await conn.run(
      `INSERT INTO experiments (experiment_id, ${names}) VALUES ($1, ${cols.map((c) => c.value).join(', ')})`,
      values,
    );
  }
}

export async function insertRows(
  conn: DuckDBConnection,
  target: string,
  rows: DuckDBValue[][],
): Promise<void> {
  // Batched multi-row VALUES: one statement per 200 rows instead of one per row.
  for (let i = 0; i < rows.length; i += 200) {
    const batch = rows.slice(i, i + 200);
    const params: DuckDBValue[] = [];
    const tuples = batch.map((r) => `(${r.map((v) => `$${params.push(v)}`).join(', ')})`);
    await conn.run(`INSERT INTO ${target} VALUES ${tuples.join(', ')}`, params);
  }
}

/**
 * Whether the experiment can have lineage rows already. Edges are written only with a row that
 * names their container, session or (for artifacts) result, and none of those fields is ever
 * cleared (mergeFields keeps a stored value; a result stays): a stored row that names none of
 * the three, or no row, has no edges yet.
 */
function mayHaveLineage(stored: ExperimentRecord | undefined): boolean {
  return Boolean(stored?.container_id || stored?.session_id || stored?.result_digest);
}

/**
 * Writes the experiment's edges. `stored` is its row as this transaction found it: without
 * edges yet, a plain INSERT does (DuckDB's ON CONFLICT check costs ≈ 5 CPU-ms per statement,
 * the largest single cost of a registration); otherwise an edge already there is kept.
 */
export async function insertLineage(
  conn: DuckDBConnection,
  row: ExperimentRow,
  artifacts: readonly PreparedArtifact[],
  now: string,
  stored: ExperimentRecord | undefined,
): Promise<void> {
  const id = row.experiment_id;
  const edges: [string, string, string, string][] = [];
  if (row.container_id) edges.push(['experiment', id, 'container', row.container_id]);
  const sessionParent: [string, string] = row.container_id
    ? ['container', row.container_id]
    : ['experiment', id];
  if (row.session_id) edges.push([...sessionParent, 'session', row.session_id]);
  const artifactParent: [string, string] = row.session_id ? ['session', row.session_id] : sessionParent;
  for (const a of artifacts) edges.push([...artifactParent, 'artifact', a.sha256]);
  // Two artifacts with the same content give the same edge; one row each.
  const unique = [...new Map(edges.map((e) => [e.join('\0'), e])).values()];
  if (unique.length === 0) return;
  const params: DuckDBValue[] = [id, now];
  const tuples = unique.map((e) => `($1, ${e.map((v) => `$${params.push(v)}`).join(', ')}, $2::TIMESTAMPTZ)`);
  const keep = mayHaveLineage(stored) ? ' ON CONFLICT DO NOTHING' : '';
  await conn.run(`INSERT INTO lineage VALUES ${tuples.join(', ')}${keep}`, params);
}

export async function insertSchemas(
  conn: DuckDBConnection,
  schemas: ReadonlyMap<string, string>,
): Promise<void> {
  if (schemas.size === 0) return;
  const params: DuckDBValue[] = [];
  const tuples = [...schemas].map(([sha, cols]) => `($${params.push(sha)}, $${params.push(cols)})`);
  await conn.run(`INSERT INTO artifact_schemas VALUES ${tuples.join(', ')} ON CONFLICT DO NOTHING`, params);
}

// Ordered schema migrations of the catalog. A migration is never edited once
// released: a change is a new entry with the next version. Each one runs in its
// own transaction together with its schema_version row, so a crash leaves the
// catalog at the previous version, never in between.
import type { DuckDBConnection } from '@duckdb/node-api';
import { CatalogError } from './errors.ts';

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'experiments, artifacts, metrics, lineage',
    statements: [
      `CREATE TABLE experiments (
        experiment_id VARCHAR PRIMARY KEY,
        plan_id VARCHAR,
        status VARCHAR NOT NULL CHECK (status IN ('queued', 'running', 'finished', 'failed', 'cancelled')),
        config JSON,
        model_sha256 VARCHAR,
        image_digest VARCHAR,
        seeds JSON,
        container_id VARCHAR,
        session_id VARCHAR,
        started_at TIMESTAMPTZ,
        finished_at TIMESTAMPTZ,
        error VARCHAR,
        -- sha256 over the registered artifacts and metrics; NULL until a result is registered.
        result_digest VARCHAR,
        registered_at TIMESTAMPTZ,
        created_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL
      )`,
      `CREATE TABLE artifacts (
        experiment_id VARCHAR NOT NULL,
        path VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,
        bytes BIGINT NOT NULL,
        media_type VARCHAR NOT NULL,
        store_path VARCHAR NOT NULL,
        PRIMARY KEY (experiment_id, path)
      )`,
      `CREATE TABLE metrics (
        experiment_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        value DOUBLE,
        PRIMARY KEY (experiment_id, name)
      )`,
      // Edges experiment → container → session → artifact. An edge table (not
      // columns on experiments) because a retried experiment runs in several
      // containers and sessions over its life.
      `CREATE TABLE lineage (
        experiment_id VARCHAR NOT NULL,
        parent_kind VARCHAR NOT NULL CHECK (parent_kind IN ('experiment', 'container', 'session')),
        parent_id VARCHAR NOT NULL,
        child_kind VARCHAR NOT NULL CHECK (child_kind IN ('container', 'session', 'artifact')),
        child_id VARCHAR NOT NULL,
        recorded_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (experiment_id, parent_kind, parent_id, child_kind, child_id)
      )`,
      'CREATE INDEX experiments_plan ON experiments (plan_id)',
    ],
  },
  {
    version: 2,
    name: 'artifact_schemas',
    statements: [
      // The DuckDB column list of each Parquet blob (sorted JSON [[name, type], …]).
      // When all registered files agree, `results` reads them without
      // union_by_name, which would open every file just to plan the query.
      `CREATE TABLE artifact_schemas (
        sha256 VARCHAR PRIMARY KEY,
        columns VARCHAR NOT NULL
      )`,
    ],
  },
  {
    version: 3,
    name: 'experiments.node',
    statements: [
      // The machine an experiment ran on (swarm: the cluster node; null on one host).
      'ALTER TABLE experiments ADD COLUMN node VARCHAR',
    ],
  },
];

export const LATEST_SCHEMA_VERSION: number = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

const VERSION_TABLE = `CREATE TABLE IF NOT EXISTS schema_version (
  version INTEGER PRIMARY KEY,
  name VARCHAR NOT NULL,
  applied_at TIMESTAMPTZ NOT NULL
)`;

/** The highest applied version; 0 for an empty database. */
export async function schemaVersion(conn: DuckDBConnection): Promise<number> {
  const exists = await conn.runAndReadAll(
    "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version' AND table_schema = 'main'",
  );
  if (Number(exists.getRows()[0]?.[0] ?? 0) === 0) return 0;
  const r = await conn.runAndReadAll('SELECT coalesce(max(version), 0) FROM schema_version');
  return Number(r.getRows()[0]?.[0] ?? 0);
}

/**
 * Brings the database to the latest version and returns {from, to}. Refuses a
 * database written by a newer Peragus (its schema may mean something we do not know).
 */
export async function migrate(
  conn: DuckDBConnection,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<{ from: number; to: number }> {
  await conn.run(VERSION_TABLE);
  const from = await schemaVersion(conn);
  const latest = migrations[migrations.length - 1]?.version ?? 0;
  if (from > latest) {
    throw new CatalogError(
      'schema_mismatch',
      `the catalog has schema version ${from}, newer than this Peragus knows (${latest}); upgrade Peragus`,
    );
  }
  let to = from;
  for (const m of migrations) {
    if (m.version <= from) continue;
    await conn.run('BEGIN TRANSACTION');
    try {
      for (const sql of m.statements) await conn.run(sql);
      await conn.run('INSERT INTO schema_version VALUES ($1, $2, now())', [m.version, m.name]);
      await conn.run('COMMIT');
    } catch (err) {
      await conn.run('ROLLBACK').catch(() => undefined);
      throw new CatalogError('schema_mismatch', `migration ${m.version} (${m.name}) failed: ${String(err)}`, {
        cause: err,
      });
    }
    to = m.version;
  }
  return { from, to };
}

/** For read-only opens, which cannot migrate: the schema must already be the one we know. */
export async function requireLatest(conn: DuckDBConnection): Promise<void> {
  const v = await schemaVersion(conn);
  if (v !== LATEST_SCHEMA_VERSION) {
    throw new CatalogError(
      'schema_mismatch',
      v < LATEST_SCHEMA_VERSION
        ? `the catalog has schema version ${v}, older than ${LATEST_SCHEMA_VERSION}; open it once read-write (start the server) to migrate`
        : `the catalog has schema version ${v}, newer than this Peragus knows (${LATEST_SCHEMA_VERSION}); upgrade Peragus`,
    );
  }
}

// catalog_query: one read-only SELECT over the catalog tables and the
// registered Parquet results, with a row limit and a time limit.
//
// Layers, each enough on its own for the cases it covers:
// 1. DuckDB's own parser: exactly one statement, and its prepared statement
//    type must be SELECT (so COPY … TO, ATTACH, SET, PRAGMA, INSTALL, CALL,
//    EXPLAIN ANALYZE … are refused without running).
// 2. The statement runs inside `BEGIN TRANSACTION READ ONLY`, always rolled back.
// 3. The instance sandbox (db.ts): files outside <home>/store/ and
//    <home>/results/ cannot be read, no extensions can be loaded, and the
//    configuration is locked.

import { stat } from 'node:fs/promises';
import {
  type DuckDBConnection,
  type DuckDBPreparedStatement,
  JSDuckDBValueConverter,
  StatementType,
} from '@duckdb/node-api';
import { PARQUET_MEDIA_TYPE } from '../artifacts/index.ts';
import type { CatalogDb } from './db.ts';
import { CatalogError, errorMessage, QueryRefusedError } from './errors.ts';
import type { ResultsIndex } from './results-index.ts';
import { type JsonValue, toJsonSafe, toText } from './values.ts';

export interface CatalogQueryOptions {
  /** Maximum rows returned (default 1000); more rows set `truncated`. */
  rowLimit?: number;
  /** The query is interrupted after this long (default 10 s). */
  timeoutMs?: number;
  /** Rows to skip before the first one returned (catalog_query's cursor). */
  skip?: number;
}

export interface QueryColumn {
  name: string;
  /** DuckDB type, e.g. "DOUBLE", "VARCHAR", "TIMESTAMP WITH TIME ZONE". */
  type: string;
}

export interface CatalogQueryResult {
  columns: QueryColumn[];
  /** One object per row, keyed by column name (duplicate names get a suffix, as DuckDB dedupes them). */
  rows: Record<string, JsonValue>[];
  row_count: number;
  truncated: boolean;
  elapsed_ms: number;
}

export const DEFAULT_ROW_LIMIT = 1000;
export const DEFAULT_TIMEOUT_MS = 10_000;

interface Slot {
  conn: DuckDBConnection;
  /** Generation of the results index this connection's `results` view was made for (-1: none yet). */
  viewGeneration: number;
}

export class QueryEngine {
  readonly #idle: Slot[] = [];
  readonly #waiters: ((slot: Slot | undefined) => void)[] = [];
  #open = 0;
  #generation = 0;
  #view: { generation: number; sql: Promise<string> } | undefined;
  #closed = false;

  readonly #db: CatalogDb;
  readonly #index: ResultsIndex;
  readonly #poolSize: number;
  constructor(db: CatalogDb, index: ResultsIndex, poolSize = 2) {
    this.#db = db;
    this.#index = index;
    this.#poolSize = poolSize;
  }

  /** Call when Parquet files were added to or removed from the results index. */
  invalidateResults(): void {
    this.#generation++;
  }

  async query(sql: string, options: CatalogQueryOptions = {}): Promise<CatalogQueryResult> {
    const rowLimit = options.rowLimit ?? DEFAULT_ROW_LIMIT;
    const skip = options.skip ?? 0;
    let skipped = 0;
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isInteger(rowLimit) || rowLimit < 1)
      throw new CatalogError('invalid_input', 'rowLimit must be >= 1');
    if (!(timeoutMs > 0)) throw new CatalogError('invalid_input', 'timeoutMs must be > 0');
    if (sql.trim() === '') throw new CatalogError('invalid_input', 'empty query');

    const started = performance.now();
    const slot = await this.#acquire();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      slot.conn.interrupt();
    }, timeoutMs);
    let prepared: DuckDBPreparedStatement | undefined;
    try {
      await this.#ensureResultsView(slot);
      await slot.conn.run('BEGIN TRANSACTION READ ONLY');
      prepared = await this.#prepareChecked(slot.conn, sql);
      const result = await prepared.stream();
      const names = result.deduplicatedColumnNames();
      const columns = names.map((name, i) => ({ name, type: result.columnType(i).toString() }));
      const rows: Record<string, JsonValue>[] = [];
      let truncated = false;
      while (!truncated) {
        const chunk = await result.fetchChunk();
        if (!chunk || chunk.rowCount === 0) break;
        for (const values of chunk.convertRows(JSDuckDBValueConverter)) {
          if (skipped < skip) {
            skipped++;
            continue;
          }
          if (rows.length >= rowLimit) {
            truncated = true;
            break;
          }
          const row: Record<string, JsonValue> = {};
          names.forEach((n, i) => {
            row[n] = toJsonSafe(values[i]);
          });
          rows.push(row);
        }
      }
      return {
        columns,
        rows,
        row_count: rows.length,
        truncated,
        elapsed_ms: Math.round((performance.now() - started) * 10) / 10,
      };
    } catch (err) {
      if (timedOut) {
        throw new CatalogError(
          'query_timeout',
          `query exceeded the time limit of ${timeoutMs} ms and was interrupted`,
          {
            cause: err,
          },
        );
      }
      throw classify(err, this.#db);
    } finally {
      clearTimeout(timer);
      prepared?.destroySync();
      await slot.conn.run('ROLLBACK').catch(() => undefined);
      // An interrupted connection is dropped rather than reused: its interrupt
      // flag must not leak into the next query.
      this.#release(slot, timedOut);
    }
  }

  close(): void {
    this.#closed = true;
    for (const s of this.#idle.splice(0)) s.conn.closeSync();
    for (const w of this.#waiters.splice(0)) w(undefined);
  }

  async #prepareChecked(conn: DuckDBConnection, sql: string): Promise<DuckDBPreparedStatement> {
    const extracted = await conn.extractStatements(sql);
    if (extracted.count === 0) throw new CatalogError('invalid_input', 'the query has no statement');
    if (extracted.count > 1) {
      throw new QueryRefusedError(`send one statement per query (got ${extracted.count})`);
    }
    const prepared = await extracted.prepare(0);
    const type = prepared.statementType;
    if (type !== StatementType.SELECT) {
      prepared.destroySync();
      const name = StatementType[type] ?? String(type);
      throw new QueryRefusedError(
        `only SELECT queries are allowed, got a ${name} statement (catalog_query is read-only)`,
      );
    }
    if (prepared.parameterCount > 0) {
      prepared.destroySync();
      throw new QueryRefusedError(
        'query parameters ($1, ?) are not supported; write the values into the SQL',
      );
    }
    return prepared;
  }

  async #ensureResultsView(slot: Slot): Promise<void> {
    if (this.#view?.generation !== this.#generation) {
      const generation = this.#generation;
      const sql = this.#buildResultsView();
      this.#view = { generation, sql };
      // A failed build is retried by the next query rather than cached.
      sql.catch(() => {
        if (this.#view?.generation === generation) this.#view = undefined;
      });
    }
    const { generation, sql } = this.#view;
    if (slot.viewGeneration === generation) return;
    await slot.conn.run(await sql);
    slot.viewGeneration = generation;
  }

  /**
   * `results`: every row of every registered Parquet artifact, with the
   * experiment it belongs to and the artifact's catalog path. The file list is
   * explicit (no glob to expand per query) and union_by_name is used only when
   * the files' columns differ. A temp view per connection because the paths
   * depend on PERAGUS_HOME and a read-only catalog cannot store views.
   */
  async #buildResultsView(): Promise<string> {
    const rows = await this.#db.rows(
      `SELECT DISTINCT a.experiment_id, a.sha256, s.columns FROM artifacts a
       LEFT JOIN artifact_schemas s USING (sha256) WHERE a.media_type = $1 ORDER BY 1, 2`,
      [PARQUET_MEDIA_TYPE],
    );
    const files: string[] = [];
    const signatures = new Set<string | null>();
    const present = await Promise.all(
      rows.map((r) =>
        stat(this.#index.fileFor(String(r.experiment_id), String(r.sha256))).then(
          () => true,
          () => false,
        ),
      ),
    );
    rows.forEach((r, i) => {
      // A link not made yet (crash between commit and link, healed on the next open) is skipped.
      if (!present[i]) return;
      files.push(this.#index.fileFor(String(r.experiment_id), String(r.sha256)));
      signatures.add(toText(r.columns));
    });
    if (files.length === 0) return EMPTY_RESULTS_VIEW;
    const uniform = signatures.size === 1 && !signatures.has(null);
    return `CREATE OR REPLACE TEMP VIEW results AS
SELECT r.experiment_id, a.artifact, r.sha256 AS artifact_sha256, r.* EXCLUDE (experiment_id, sha256)
FROM read_parquet([${files.map(sqlString).join(', ')}], hive_partitioning = true,
  hive_types = {'experiment_id': VARCHAR, 'sha256': VARCHAR}${uniform ? '' : ', union_by_name = true'}) r
LEFT JOIN (SELECT experiment_id, sha256, min(path) AS artifact FROM artifacts
           WHERE media_type = ${sqlString(PARQUET_MEDIA_TYPE)} GROUP BY ALL) a
  ON a.experiment_id = r.experiment_id AND a.sha256 = r.sha256`;
  }

  async #acquire(): Promise<Slot> {
    if (this.#closed || this.#db.isClosed) throw new CatalogError('invalid_input', 'the catalog is closed');
    const slot = this.#idle.pop();
    if (slot) return slot;
    if (this.#open < this.#poolSize) {
      this.#open++;
      try {
        return { conn: await this.#db.connect(), viewGeneration: -1 };
      } catch (err) {
        this.#open--;
        throw err;
      }
    }
    const next = await new Promise<Slot | undefined>((resolve) => this.#waiters.push(resolve));
    if (!next) throw new CatalogError('invalid_input', 'the catalog is closed');
    return next;
  }

  #release(slot: Slot, discard: boolean): void {
    if (discard || this.#closed) {
      slot.conn.closeSync();
      this.#open--;
      const waiter = this.#waiters.shift();
      if (waiter) {
        // Hand the waiter a fresh connection in place of the dropped one.
        this.#open++;
        this.#db.connect().then(
          (conn) => waiter({ conn, viewGeneration: -1 }),
          () => {
            this.#open--;
            waiter(undefined);
          },
        );
      }
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter) waiter(slot);
    else this.#idle.push(slot);
  }
}

const sqlString = (s: string): string => `'${s.replaceAll("'", "''")}'`;

const EMPTY_RESULTS_VIEW = `CREATE OR REPLACE TEMP VIEW results AS
SELECT NULL::VARCHAR AS experiment_id, NULL::VARCHAR AS artifact, NULL::VARCHAR AS artifact_sha256 WHERE false`;

function classify(err: unknown, db: CatalogDb): Error {
  if (err instanceof CatalogError) return err;
  const msg = errorMessage(err);
  if (/^Permission Error/i.test(msg) || /disabled (by|through) configuration/i.test(msg)) {
    return new QueryRefusedError(
      `it accesses files outside the results store (only ${db.storeDir}/ and ${db.resultsDir}/ are readable; ` +
        `use the tables experiments, artifacts, metrics and the view results): ${msg}`,
      { cause: err },
    );
  }
  if (/read-only mode|read-only transaction|Cannot write to database/i.test(msg)) {
    return new QueryRefusedError(`catalog_query is read-only: ${msg}`, { cause: err });
  }
  return new CatalogError('query_failed', msg, { cause: err });
}

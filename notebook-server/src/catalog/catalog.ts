// The catalog: experiments, their registered results and the queries over
// them. One Catalog per PERAGUS_HOME per process (the host server's).

import { PARQUET_MEDIA_TYPE } from '../artifacts/index.ts';
import { normalizeMetrics, type PreparedArtifact, prepareArtifacts, resultDigest } from './artifacts.ts';
import { CatalogDb, type OpenDbOptions } from './db.ts';
import { CatalogError } from './errors.ts';
import { completeIds, type ExperimentPageQuery, readExperimentPage } from './listing.ts';
import { type CatalogQueryOptions, type CatalogQueryResult, QueryEngine } from './query.ts';
import {
  type ArtifactRecord,
  type ExperimentRecord,
  type ExperimentState,
  type ExperimentSummary,
  type LineageEdge,
  type MetricsRecord,
  readArtifacts,
  readExperiment,
  readExperimentState,
  readLineage,
  readMetrics,
  readPlanStates,
  readSummaries,
} from './records.ts';
import { ResultsIndex } from './results-index.ts';
import {
  type ExperimentFilter,
  ExperimentIdSchema,
  type ExperimentStatus,
  parseInput,
  type RegisterResultInput,
  RegisterResultInputSchema,
  type UpsertExperimentInput,
  UpsertExperimentInputSchema,
} from './schemas.ts';
import { ResultStore } from './store.ts';
import {
  type ExperimentRow,
  insertLineage,
  insertRows,
  insertSchemas,
  mergeFields,
  selectExperiment,
  writeExperimentRow,
} from './writes.ts';

export type CatalogOptions = OpenDbOptions;

export type RegisterOutcome = 'registered' | 'unchanged' | 'replaced';

export interface RegisterResultOutput {
  experiment_id: string;
  /** registered: first result; unchanged: the same result was already registered (nothing written); replaced: replace=true. */
  outcome: RegisterOutcome;
  status: ExperimentStatus;
  result_digest: string;
  artifacts: ArtifactRecord[];
  metrics: MetricsRecord;
}

export interface CatalogChange {
  experiment_id: string;
  /** experiment: status or fields changed; result: artifacts/metrics changed. */
  kind: 'experiment' | 'result';
}

export type ChangeListener = (experimentId: string, change: CatalogChange) => void;

export class Catalog {
  readonly store: ResultStore;
  readonly #index: ResultsIndex;
  readonly #engine: QueryEngine;
  readonly #listeners = new Set<ChangeListener>();

  readonly #db: CatalogDb;
  private constructor(db: CatalogDb) {
    this.#db = db;
    this.store = new ResultStore(db.home);
    this.#index = new ResultsIndex(db.resultsDir);
    this.#engine = new QueryEngine(db, this.#index);
  }

  /**
   * Opens (creating and migrating when needed) the catalog under `home`.
   * With readOnly, another process may not hold it (CatalogLockedError).
   */
  static async open(options: CatalogOptions): Promise<Catalog> {
    const db = await CatalogDb.open(options);
    const catalog = new Catalog(db);
    if (!db.readOnly) {
      try {
        await catalog.#reconcileResultsIndex();
        await catalog.store.cleanTemp();
      } catch (err) {
        catalog.close();
        throw err;
      }
    }
    return catalog;
  }

  get home(): string {
    return this.#db.home;
  }
  get readOnly(): boolean {
    return this.#db.readOnly;
  }
  /** The DuckDB file (for messages; open it through Catalog only). */
  get file(): string {
    return this.#db.file;
  }

  /**
   * Copies the artifacts into the store (checksums verified first), then
   * writes the experiment, artifact, metric and lineage rows in one
   * transaction. Idempotent by experiment_id: the same result again is a
   * no-op; a different one for a finished experiment is refused unless
   * `replace` is set (a failed experiment's result is replaced by its retry's).
   */
  async registerResult(
    input: RegisterResultInput,
    /** The artifacts' files are the host's own copies, handed to the store (linked, not copied). */
    { adoptFiles = false }: { adoptFiles?: boolean } = {},
  ): Promise<RegisterResultOutput> {
    const p = parseInput(RegisterResultInputSchema, input);
    const metrics = normalizeMetrics(p.metrics);
    const artifacts = await prepareArtifacts(p.artifacts);
    const digest = resultDigest(p.status, artifacts, metrics);
    const id = p.experiment_id;

    const unchanged = await this.#checkExisting(id, digest, p.replace);
    if (unchanged) return unchanged;

    // Blobs go in before the rows: a crash in between leaves only an
    // unreferenced blob, never a row pointing at nothing.
    const stored = new Map<string, string>();
    for (const a of artifacts) {
      const blob = await this.store.put(a.source, {
        expectedSha256: a.sha256,
        expectedBytes: a.bytes,
        adopt: adoptFiles,
      });
      stored.set(a.sha256, blob.path);
    }
    const schemas = await this.#parquetSchemas(artifacts, stored);

    const outcome = await this.#db.write(async (conn) => {
      const existing = await selectExperiment(conn, id);
      // Checked again inside the transaction: a concurrent register may have won.
      if (existing?.result_digest) {
        if (existing.result_digest === digest) return 'unchanged' as const;
        if (existing.status === 'finished' && !p.replace) throw conflict(id, existing.result_digest, digest);
      }
      const now = new Date().toISOString();
      const row: ExperimentRow = {
        ...mergeFields(existing, p),
        experiment_id: id,
        status: p.status,
        finished_at: p.finished_at ?? (existing?.status === p.status ? existing.finished_at : null) ?? now,
        error: p.error ?? (p.status === 'failed' ? (existing?.error ?? null) : null),
        result_digest: digest,
        registered_at: now,
      };
      await writeExperimentRow(conn, row, existing !== undefined, now);
      const replacing = existing?.result_digest != null;
      // Artifact and metric rows are only ever written together with
      // result_digest, so there is something to delete only when replacing.
      if (replacing) {
        await conn.run('DELETE FROM artifacts WHERE experiment_id = $1', [id]);
        await conn.run('DELETE FROM metrics WHERE experiment_id = $1', [id]);
        await conn.run("DELETE FROM lineage WHERE experiment_id = $1 AND child_kind = 'artifact'", [id]);
      }
      await insertRows(
        conn,
        'artifacts (experiment_id, path, sha256, bytes, media_type, store_path)',
        artifacts.map((a) => [id, a.name, a.sha256, a.bytes, a.media_type, stored.get(a.sha256) ?? '']),
      );
      await insertRows(
        conn,
        'metrics (experiment_id, name, value)',
        [...metrics].map(([name, value]) => [id, name, value]),
      );
      await insertLineage(conn, row, artifacts, now, existing);
      await insertSchemas(conn, schemas);
      return replacing ? ('replaced' as const) : ('registered' as const);
    });
    if (outcome === 'unchanged')
      return (await this.#checkExisting(id, digest, false)) as RegisterResultOutput;

    const parquet = artifacts.filter((a) => a.media_type === PARQUET_MEDIA_TYPE);
    await this.#index.sync(id, new Map(parquet.map((a) => [a.sha256, stored.get(a.sha256) ?? ''])));
    this.#engine.invalidateResults();
    this.#emit(id, 'result');
    return {
      experiment_id: id,
      outcome,
      status: p.status,
      result_digest: digest,
      artifacts: artifacts
        .map((a) => ({
          path: a.name,
          sha256: a.sha256,
          bytes: a.bytes,
          media_type: a.media_type,
          store_path: stored.get(a.sha256) ?? '',
        }))
        .sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0)),
      metrics: Object.fromEntries([...metrics].sort((x, y) => (x[0] < y[0] ? -1 : 1))),
    };
  }

  /**
   * Creates or updates an experiment's status and fields (queued → running →
   * finished | failed | cancelled; a retry may go back to queued or running).
   * An experiment with a registered finished result stays finished.
   */
  async upsertExperiment(input: UpsertExperimentInput): Promise<ExperimentRecord> {
    const p = parseInput(UpsertExperimentInputSchema, input);
    const id = p.experiment_id;
    const record = await this.#db.write(async (conn) => {
      const existing = await selectExperiment(conn, id);
      const status: ExperimentStatus = p.status ?? existing?.status ?? 'queued';
      if (existing?.result_digest && existing.status === 'finished' && status !== 'finished') {
        throw new CatalogError(
          'invalid_transition',
          `experiment ${id} already has a registered result (status ${existing.status}); it cannot become ${status}. ` +
            'Register a new result with replace: true instead',
        );
      }
      const now = new Date().toISOString();
      const merged = mergeFields(existing, p);
      const changed = existing?.status !== status;
      if (status === 'queued' || status === 'running') {
        if (changed) {
          merged.started_at = p.started_at ?? (status === 'running' ? now : null);
          merged.finished_at = p.finished_at ?? null;
          merged.error = p.error ?? null;
        }
      } else if (changed) {
        merged.finished_at = p.finished_at ?? now;
        if (status !== 'failed') merged.error = p.error ?? null;
      }
      const row: ExperimentRow = {
        ...merged,
        experiment_id: id,
        status,
        result_digest: existing?.result_digest ?? null,
        registered_at: existing?.registered_at ?? null,
      };
      await writeExperimentRow(conn, row, existing !== undefined, now);
      await insertLineage(conn, row, [], now, existing);
      return { ...row, created_at: row.created_at ?? now, updated_at: now } as ExperimentRecord;
    });
    this.#emit(id, 'experiment');
    return record;
  }

  listExperiments(
    filter: ExperimentFilter = {},
  ): Promise<{ experiments: ExperimentSummary[]; total: number }> {
    return readSummaries(this.#db, filter);
  }

  /** Compact rows, newest first, paged by cursor (experiment_list). */
  listExperimentPage(query: ExperimentPageQuery): ReturnType<typeof readExperimentPage> {
    return readExperimentPage(this.#db, query);
  }

  /** Ids starting with prefix, newest first (completion/complete). */
  completeIds(column: 'experiment_id' | 'plan_id', prefix: string): ReturnType<typeof completeIds> {
    return completeIds(this.#db, column, prefix);
  }

  getExperiment(experimentId: string): Promise<ExperimentRecord | null> {
    return readExperiment(this.#db, experimentId);
  }

  /** Its status and result digest only (null when unknown): what "is it done?" needs. */
  getExperimentState(experimentId: string): Promise<ExperimentState | null> {
    return readExperimentState(this.#db, experimentId);
  }

  /** The status and result digest of every experiment of a plan, by experiment id (one query). */
  getPlanStates(planId: string): Promise<Map<string, ExperimentState>> {
    return readPlanStates(this.#db, planId);
  }

  /** The record with its metrics and artifact totals; null when unknown. */
  async getSummary(experimentId: string): Promise<ExperimentSummary | null> {
    const { experiments } = await readSummaries(this.#db, {
      experiment_ids: [checkId(experimentId)],
      limit: 1,
    });
    return experiments[0] ?? null;
  }

  /** null when the experiment is unknown. */
  async getArtifacts(experimentId: string): Promise<ArtifactRecord[] | null> {
    if (!(await readExperiment(this.#db, experimentId))) return null;
    return readArtifacts(this.#db, experimentId);
  }

  /** null when the experiment is unknown. */
  async getMetrics(experimentId: string): Promise<MetricsRecord | null> {
    if (!(await readExperiment(this.#db, experimentId))) return null;
    return readMetrics(this.#db, experimentId);
  }

  getLineage(experimentId: string): Promise<LineageEdge[]> {
    return readLineage(this.#db, experimentId);
  }

  /** Read-only SQL over experiments, artifacts, metrics, lineage and the `results` view (see query.ts). */
  query(sql: string, options?: CatalogQueryOptions): Promise<CatalogQueryResult> {
    return this.#engine.query(sql, options);
  }

  /** Called after every committed change; returns an unsubscribe function. */
  onChange(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    this.#listeners.clear();
    this.#engine.close();
    this.#db.close();
  }

  #emit(experimentId: string, kind: CatalogChange['kind']): void {
    for (const l of [...this.#listeners]) {
      try {
        l(experimentId, { experiment_id: experimentId, kind });
      } catch {
        // A failing subscriber must not fail the write that already committed.
      }
    }
  }

  async #checkExisting(id: string, digest: string, replace: boolean): Promise<RegisterResultOutput | null> {
    const existing = await readExperimentState(this.#db, id);
    if (!existing?.result_digest) return null;
    if (existing.result_digest === digest) return this.#describeResult(id, 'unchanged');
    // Only a finished result is final; a failed one is replaced by the retry's.
    if (existing.status === 'finished' && !replace) throw conflict(id, existing.result_digest, digest);
    return null;
  }

  async #describeResult(id: string, outcome: RegisterOutcome): Promise<RegisterResultOutput> {
    const e = (await readExperiment(this.#db, id)) as ExperimentRecord;
    return {
      experiment_id: id,
      outcome,
      status: e.status,
      result_digest: e.result_digest ?? '',
      artifacts: await readArtifacts(this.#db, id),
      metrics: await readMetrics(this.#db, id),
    };
  }

  /** DuckDB must be able to read every indexed Parquet file, or all `results` queries would fail. */
  /**
   * DuckDB must be able to read every indexed Parquet file, or all `results`
   * queries would fail. Returns each file's column signature (sha256 → JSON).
   */
  async #parquetSchemas(
    artifacts: readonly PreparedArtifact[],
    stored: Map<string, string>,
  ): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const a of artifacts) {
      if (a.media_type !== PARQUET_MEDIA_TYPE || out.has(a.sha256)) continue;
      try {
        out.set(a.sha256, await this.#columnSignature(stored.get(a.sha256) ?? ''));
      } catch (err) {
        throw new CatalogError(
          'invalid_artifact',
          `artifact ${a.source} is not a readable Parquet file: ${err}`,
          {
            cause: err,
          },
        );
      }
    }
    return out;
  }

  async #columnSignature(storePath: string): Promise<string> {
    const rows = await this.#db.rows(
      'SELECT column_name AS n, column_type AS t FROM (DESCRIBE SELECT * FROM read_parquet($1))',
      [storePath],
    );
    const cols = rows.map((r) => [String(r.n), String(r.t)]).sort((x, y) => (x[0]! < y[0]! ? -1 : 1));
    return JSON.stringify(cols);
  }

  async #reconcileResultsIndex(): Promise<void> {
    const rows = await this.#db.rows(
      'SELECT DISTINCT experiment_id, sha256, store_path FROM artifacts WHERE media_type = $1',
      [PARQUET_MEDIA_TYPE],
    );
    const expected = new Map<string, Map<string, string>>();
    for (const r of rows) {
      const id = String(r.experiment_id);
      const m = expected.get(id) ?? new Map<string, string>();
      m.set(String(r.sha256), String(r.store_path));
      expected.set(id, m);
    }
    await this.#index.reconcile(expected);
    // Signatures missing (e.g. files registered before schema version 2) are filled in.
    const missing = await this.#db.rows(
      `SELECT DISTINCT a.sha256, a.store_path FROM artifacts a ANTI JOIN artifact_schemas s USING (sha256)
       WHERE a.media_type = $1`,
      [PARQUET_MEDIA_TYPE],
    );
    const schemas = new Map<string, string>();
    for (const r of missing) {
      const sig = await this.#columnSignature(String(r.store_path)).catch(() => undefined);
      if (sig !== undefined) schemas.set(String(r.sha256), sig);
    }
    if (schemas.size > 0) await this.#db.write((conn) => insertSchemas(conn, schemas));
    this.#engine.invalidateResults();
  }
}

function checkId(id: string): string {
  return parseInput(ExperimentIdSchema, id);
}

function conflict(id: string, have: string, got: string): CatalogError {
  return new CatalogError(
    'result_conflict',
    `experiment ${id} already has a different registered result (digest ${have.slice(0, 12)}…, new ${got.slice(0, 12)}…); ` +
      'pass replace: true to replace it',
  );
}

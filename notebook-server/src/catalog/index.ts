// Public API of the catalog: results store, DuckDB catalog, read-only queries.
// MCP tools (experiment_register_result, experiment_list, catalog_query), the
// experiment:// resources and `peragus catalog query` are built on these.

export { PARQUET_MEDIA_TYPE } from '../artifacts/index.ts';
export {
  Catalog,
  type CatalogChange,
  type CatalogOptions,
  type ChangeListener,
  type RegisterOutcome,
  type RegisterResultOutput,
} from './catalog.ts';
export {
  CatalogError,
  type CatalogErrorCode,
  CatalogLockedError,
  ChecksumMismatchError,
  QueryRefusedError,
} from './errors.ts';
export { LATEST_SCHEMA_VERSION, MIGRATIONS, type Migration } from './migrations.ts';
export {
  type CatalogQueryOptions,
  type CatalogQueryResult,
  DEFAULT_ROW_LIMIT,
  DEFAULT_TIMEOUT_MS,
  type QueryColumn,
} from './query.ts';
export type {
  ArtifactRecord,
  ExperimentRecord,
  ExperimentSummary,
  LineageEdge,
  MetricsRecord,
} from './records.ts';
export * from './schemas.ts';
export { hashFile, type PutOptions, type PutSource, ResultStore, type StoredBlob } from './store.ts';
export { catalogQuery, experimentList, experimentRegisterResult } from './tools.ts';
export { type JsonValue, toJsonSafe } from './values.ts';

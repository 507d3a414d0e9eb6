// Adapters from the MCP tools' snake_case inputs (validated by the shared zod
// schemas) to the Catalog API, so the MCP layer only maps results to content.
import type { Catalog, RegisterResultOutput } from './catalog.ts';
import type { CatalogQueryResult } from './query.ts';
import type { ExperimentSummary } from './records.ts';
import {
  type CatalogQueryInput,
  CatalogQueryInputSchema,
  type ExperimentFilter,
  ExperimentFilterSchema,
  parseInput,
  type RegisterResultInput,
} from './schemas.ts';

/** catalog_query {sql, row_limit?, timeout_ms?} */
export async function catalogQuery(catalog: Catalog, input: CatalogQueryInput): Promise<CatalogQueryResult> {
  const { sql, row_limit, timeout_ms } = parseInput(CatalogQueryInputSchema, input);
  return catalog.query(sql, { rowLimit: row_limit, timeoutMs: timeout_ms });
}

/** experiment_list {status?, plan_id?, experiment_ids?, limit?, offset?} */
export async function experimentList(
  catalog: Catalog,
  input: ExperimentFilter = {},
): Promise<{ experiments: ExperimentSummary[]; total: number }> {
  return catalog.listExperiments(parseInput(ExperimentFilterSchema, input));
}

/** experiment_register_result {experiment_id, container_id?, session_id, artifacts, metrics, …} */
export async function experimentRegisterResult(
  catalog: Catalog,
  input: RegisterResultInput,
): Promise<RegisterResultOutput> {
  return catalog.registerResult(input);
}

// Catalog tools (host only): experiment_register_result, experiment_list,
// catalog_query. The plan tool is in plan.ts.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Catalog } from '../../catalog/catalog.ts';
import { copyOutOf } from '../../confine/copy.ts';
import type { SessionManager } from '../../notebook/manager.ts';
import type { ContainerService } from '../../orchestrator/containers.ts';
import type { ContainerRouter } from '../../orchestrator/router.ts';
import {
  CatalogQueryInput,
  CatalogQueryOutput,
  ExperimentListInput,
  ExperimentListOutput,
  RegisterInput,
  RegisterOutput,
} from '../../schemas/catalog-tools.ts';
import { defineTool, type ToolDef, ToolInputError } from '../tool.ts';
import { checkLineage } from './lineage.ts';

export interface CatalogToolDeps {
  catalog: Catalog;
  containers: ContainerService;
  sessions: SessionManager;
  /** Reaches container sessions for the lineage check of experiment_register_result. */
  router?: ContainerRouter;
}

/** catalog_query's cursor: the offset of the next page, bound to the sql it pages. */
const sqlKey = (sql: string) => createHash('sha256').update(sql).digest('hex').slice(0, 16);
function queryCursor(sql: string, cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  const m = /^([0-9a-f]{16})\.(\d{1,9})$/.exec(cursor);
  if (!m) throw new ToolInputError('invalid cursor: pass next_cursor of the previous page unchanged');
  if (m[1] !== sqlKey(sql)) {
    throw new ToolInputError('this cursor belongs to another query: page with the same sql, or omit cursor');
  }
  return Number(m[2]);
}

export function catalogTools(deps: CatalogToolDeps): ToolDef[] {
  const { catalog, containers, sessions } = deps;
  return [
    defineTool({
      name: 'experiment_register_result',
      description:
        "Register an experiment's artifacts (copied out of its container or host session into the content-addressed store, checksums verified) and metrics in the catalog. Idempotent by experiment_id: the same result again is 'unchanged'; a different one needs replace: true.",
      input: RegisterInput,
      output: RegisterOutput,
      hints: { readOnly: false, destructive: false, idempotent: true, openWorld: false },
      handler: async (args) => {
        await checkLineage(deps, args);
        const artifacts = [];
        // Files of a host session are copied out (no link followed) before the catalog reads them.
        const stage = args.container_id ? undefined : mkdtempSync(join(tmpdir(), 'peragus-register-'));
        try {
          for (const [i, a] of args.artifacts.entries()) {
            let local: string;
            if (args.container_id) {
              const out = await containers.runtimeOf(args.container_id).cpOut(args.container_id, a.path);
              local = out.path;
            } else {
              local = join(stage as string, String(i));
              copyOutOf(sessions.get(args.session_id).workDir, a.path, local, {
                what: 'artifact path',
                where: `session ${args.session_id}'s work dir`,
              });
            }
            artifacts.push({
              path: local,
              name: a.path,
              ...(a.sha256 ? { sha256: a.sha256 } : {}),
              ...(a.media_type ? { media_type: a.media_type } : {}),
            });
          }
          return await catalog.registerResult({
            experiment_id: args.experiment_id,
            session_id: args.session_id,
            ...(args.container_id ? { container_id: args.container_id } : {}),
            ...(args.config ? { config: args.config } : {}),
            artifacts,
            metrics: args.metrics,
            replace: args.replace,
          });
        } finally {
          if (stage) rmSync(stage, { recursive: true, force: true });
        }
      },
    }),
    defineTool({
      name: 'experiment_list',
      description:
        'Experiments in the catalog, newest first (by creation time), as compact rows (status, plan, times, metrics, artifact count). ' +
        'Filter by status, plan_id, created_after/created_before; page with cursor (next_cursor). Full record: resource experiment://{id}/summary.',
      input: ExperimentListInput,
      output: ExperimentListOutput,
      hints: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
      handler: async (args) => catalog.listExperimentPage(args),
    }),
    defineTool({
      name: 'catalog_query',
      description:
        'Read-only SQL (DuckDB) over the catalog: tables experiments, artifacts, metrics, and results (rows of every registered Parquet result, with experiment_id). ' +
        'Pages of row_limit rows (default 1000); next_cursor continues the same sql. Time limit timeout_ms (default 10 s).',
      input: CatalogQueryInput,
      output: CatalogQueryOutput,
      hints: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
      handler: async (args) => {
        const skip = queryCursor(args.sql, args.cursor);
        const r = await catalog.query(args.sql, {
          rowLimit: args.row_limit,
          timeoutMs: args.timeout_ms,
          skip,
        });
        return {
          ...r,
          columns: r.columns.map((c) => ({ name: c.name, type: c.type })),
          ...(r.truncated ? { next_cursor: `${sqlKey(args.sql)}.${skip + r.row_count}` } : {}),
        };
      },
    }),
  ];
}

// Catalog and plan tools (host only): experiment_register_result,
// experiment_list, catalog_query, experiment_plan_run (an MCP task when the
// client asks: see ../tasks.ts).
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Catalog } from '../../catalog/catalog.ts';
import type { Config } from '../../config/index.ts';
import { copyOutOf } from '../../confine/copy.ts';
import type { SessionManager } from '../../notebook/manager.ts';
import type { ContainerService } from '../../orchestrator/containers.ts';
import { clientModelText, PlanModelError } from '../../orchestrator/plan-model.ts';
import type { PlanRunner } from '../../orchestrator/plans.ts';
import type { ContainerRouter } from '../../orchestrator/router.ts';
import {
  CatalogQueryInput,
  CatalogQueryOutput,
  ExperimentListInput,
  ExperimentListOutput,
  PlanRunInput,
  PlanRunOutput,
  RegisterInput,
  RegisterOutput,
} from '../../schemas/catalog-tools.ts';
import { defineTool, type ToolCall, type ToolDef, ToolInputError } from '../tool.ts';
import { checkLineage } from './lineage.ts';

export interface CatalogToolDeps {
  catalog: Catalog;
  containers: ContainerService;
  sessions: SessionManager;
  plans: PlanRunner;
  /** PERAGUS_HOME: plan models come from its inbox or catalog, never from other host paths. */
  home: string;
  /** Reaches container sessions for the lineage check of experiment_register_result. */
  router?: ContainerRouter;
  /** Plans above these ask the user first (MCP elicitation). */
  approval: { maxExperiments: number; maxParallel: number };
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

async function askApproval(call: ToolCall, message: string): Promise<void> {
  const caps = call.server.server.getClientCapabilities();
  if (!caps?.elicitation) {
    throw new ToolInputError(
      `${message} This needs the user's approval, and this client cannot ask (no MCP elicitation support). ` +
        'Lower parallel_limit or the number of experiments, or raise PERAGUS_PLAN_APPROVE_EXPERIMENTS / PERAGUS_PLAN_APPROVE_PARALLEL.',
    );
  }
  const answer = await call.server.server.elicitInput({
    mode: 'form',
    message: `${message} Run it?`,
    requestedSchema: {
      type: 'object',
      properties: { approve: { type: 'boolean', title: 'Approve this plan' } },
      required: ['approve'],
    },
  });
  if (answer.action !== 'accept' || answer.content?.approve !== true) {
    throw new ToolInputError('the user did not approve the plan; nothing was started');
  }
}

export function catalogTools(deps: CatalogToolDeps): ToolDef[] {
  const { catalog, containers, sessions, plans } = deps;
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
              copyOutOf(sessions.get(args.session_id).work_dir, a.path, local, {
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
    defineTool({
      name: 'experiment_plan_run',
      description:
        'Run N experiments from one call: a grid over model parameters (or a list of targets), K at a time, each in its own container through the whole lifecycle (provision, notebook, load, run, export, register, destroy). ' +
        'In grid, [a, b] is a SET of values (one experiment each), unlike in the experiment object where it is a range. ' +
        'Long plans: call it as an MCP task (poll, cancel, fetch the result after reconnecting); otherwise the call waits, kept alive by progress per experiment (wait: false returns at once). ' +
        'Example: {"model": {"source": "sir.mdl", "content": "..."}, "experiment": {"type": "single"}, "grid": {"Contact Rate": [4, 8], "Infectivity": [0.05, 0.1]}, "parallel_limit": 2}.',
      input: PlanRunInput,
      output: PlanRunOutput,
      hints: { readOnly: false, destructive: false, idempotent: false, openWorld: true },
      task: true,
      handler: async (args, call) => {
        const { wait, ...input } = args;
        const { plan, count } = plans.prepare(input);
        const modelText = await clientModelText(plan, deps.home, catalog).catch((err: unknown) => {
          throw err instanceof PlanModelError ? new ToolInputError(err.message, { code: err.code }) : err;
        });
        const { maxExperiments, maxParallel } = deps.approval;
        if (count > maxExperiments || plan.parallel_limit > maxParallel) {
          await askApproval(
            call,
            `The plan starts ${count} experiments, up to ${plan.parallel_limit} containers at once (approval needed above ${maxExperiments} experiments or ${maxParallel} at once).`,
          );
        }
        if (call.signal.aborted) throw new ToolInputError('the call was cancelled before the plan started');
        const started = await plans.start(plan, modelText);
        const head = {
          plan_id: started.plan_id,
          experiments: started.experiments.map((e) => ({ experiment_id: e.experiment_id, fixed: e.fixed })),
        };
        if (!wait) return head;
        const off = plans.onProgress(started.plan_id, (p) => void call.progress(p.done, p.total, p.message));
        const onAbort = () => plans.cancel(started.plan_id);
        call.signal.addEventListener('abort', onAbort);
        if (call.signal.aborted) onAbort(); // cancelled while the plan was being set up
        try {
          return { ...head, ...(await plans.wait(started.plan_id)) };
        } finally {
          off();
          call.signal.removeEventListener('abort', onAbort);
        }
      },
    }),
  ];
}

/** The plan approval limits of the configuration (PERAGUS_PLAN_APPROVE_*). */
export const approvalOf = (config: Pick<Config, 'planApproveExperiments' | 'planApproveParallel'>) => ({
  maxExperiments: config.planApproveExperiments,
  maxParallel: config.planApproveParallel,
});

// Catalog and plan tools (host only): experiment_register_result,
// experiment_list, catalog_query, experiment_plan_run, plus the experiment://
// resources, which notify subscribers when the catalog changes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SubscribeRequestSchema, UnsubscribeRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { Catalog } from '../../catalog/catalog.ts';
import {
  ArtifactInputSchema,
  CatalogQueryInputSchema,
  ExperimentFilterSchema,
  MetricsInputSchema,
} from '../../catalog/schemas.ts';
import { copyOutOf } from '../../confine/index.ts';
import type { SessionManager } from '../../notebook/manager.ts';
import type { ContainerService } from '../../orchestrator/containers.ts';
import { clientModelText, PlanModelError } from '../../orchestrator/plan-model.ts';
import { PlanInput } from '../../orchestrator/plan-schema.ts';
import type { PlanRunner } from '../../orchestrator/plans.ts';
import type { ContainerRouter } from '../router.ts';
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

const RegisterArtifact = ArtifactInputSchema.pick({ sha256: true, media_type: true }).extend({
  path: z.string().min(1).describe("Relative to the session's work dir (what pysd_* tools return)."),
});

export const RegisterInput = {
  experiment_id: z.string().min(1),
  container_id: z
    .string()
    .optional()
    .describe('Where the artifacts are (copied out first); omit for host sessions.'),
  session_id: z.string().min(1),
  artifacts: z.array(RegisterArtifact).default([]),
  metrics: MetricsInputSchema.default({}),
  config: z.record(z.string(), z.unknown()).optional(),
  replace: z.boolean().default(false),
};

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
        "Register an experiment's artifacts (copied out of its container or host session into the content-addressed store, checksums verified) and metrics in the catalog. Idempotent by experiment_id.",
      input: RegisterInput,
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
      description: 'Experiments in the catalog (filter by status, plan_id), newest first.',
      input: ExperimentFilterSchema.shape,
      readOnly: true,
      handler: async (args) => catalog.listExperiments(args),
    }),
    defineTool({
      name: 'catalog_query',
      description:
        'Read-only SQL over the catalog: tables experiments, artifacts, metrics, and results (rows of every registered Parquet result, with experiment_id). Row and time limits apply.',
      input: CatalogQueryInputSchema.shape,
      readOnly: true,
      handler: async (args) =>
        catalog.query(args.sql, { rowLimit: args.row_limit, timeoutMs: args.timeout_ms }),
    }),
    defineTool({
      name: 'experiment_plan_run',
      description:
        'Run N experiments from one call: a grid over model parameters (or a list of targets), K at a time, each in its own container through the whole lifecycle (provision, notebook, load, run, export, register, destroy). Progress per experiment; waits for the plan unless wait=false.',
      input: { ...PlanInput.shape, wait: z.boolean().default(true) },
      handler: async (args, call) => {
        const { wait, ...input } = args;
        const { plan, count } = plans.prepare(input);
        const modelText = await clientModelText(plan, deps.home, catalog).catch((err: unknown) => {
          throw err instanceof PlanModelError ? new ToolInputError(err.message) : err;
        });
        const { maxExperiments, maxParallel } = deps.approval;
        if (count > maxExperiments || plan.parallel_limit > maxParallel) {
          await askApproval(
            call,
            `The plan starts ${count} experiments, up to ${plan.parallel_limit} containers at once (approval needed above ${maxExperiments} experiments or ${maxParallel} at once).`,
          );
        }
        const started = await plans.start(plan, modelText);
        const head = {
          plan_id: started.plan_id,
          experiments: started.experiments.map((e) => ({ experiment_id: e.experiment_id, fixed: e.fixed })),
        };
        if (!wait) return head;
        const off = plans.onProgress(started.plan_id, (p) => void call.progress(p.done, p.total, p.message));
        const onAbort = () => plans.cancel(started.plan_id);
        call.signal.addEventListener('abort', onAbort);
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

/** experiment://{id}/summary|artifacts|metrics, with updated notifications for subscribers. */
export function registerCatalogResources(server: McpServer, catalog: Catalog): () => void {
  const kinds = ['summary', 'artifacts', 'metrics'] as const;
  for (const kind of kinds) {
    server.registerResource(
      `experiment-${kind}`,
      new ResourceTemplate(`experiment://{id}/${kind}`, { list: undefined }),
      { description: `An experiment's ${kind} from the catalog.`, mimeType: 'application/json' },
      async (uri, variables) => {
        const id = String(variables.id);
        const value =
          kind === 'summary'
            ? await catalog.getSummary(id)
            : kind === 'artifacts'
              ? await catalog.getArtifacts(id)
              : await catalog.getMetrics(id);
        if (value === null) throw new Error(`no experiment "${id}" in the catalog`);
        return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(value) }] };
      },
    );
  }
  // Only subscribed URIs get updated notifications (resources/subscribe).
  const subscribed = new Set<string>();
  server.server.setRequestHandler(SubscribeRequestSchema, async (req) => {
    subscribed.add(req.params.uri);
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, async (req) => {
    subscribed.delete(req.params.uri);
    return {};
  });
  return catalog.onChange((experimentId) => {
    for (const kind of kinds) {
      const uri = `experiment://${experimentId}/${kind}`;
      if (subscribed.has(uri)) void server.server.sendResourceUpdated({ uri }).catch(() => undefined);
    }
  });
}

export const approvalFromEnv = (env: NodeJS.ProcessEnv = process.env) => ({
  maxExperiments: Number(env.PERAGUS_PLAN_APPROVE_EXPERIMENTS ?? 100),
  maxParallel: Number(env.PERAGUS_PLAN_APPROVE_PARALLEL ?? 8),
});

// The plan tool (host only): experiment_plan_run runs N experiments from one
// call (an MCP task when the client asks: see ../tasks.ts).
import type { Catalog } from '../../catalog/catalog.ts';
import type { Config } from '../../config/index.ts';
import { clientModelText, PlanModelError } from '../../orchestrator/plan-model.ts';
import type { PlanRunner } from '../../orchestrator/plans.ts';
import { PlanRunInput, PlanRunOutput } from '../../schemas/catalog-tools.ts';
import { defineTool, type ToolCall, type ToolDef, ToolInputError } from '../tool.ts';

export interface PlanToolDeps {
  catalog: Catalog;
  plans: PlanRunner;
  /** PERAGUS_HOME: plan models come from its inbox or catalog, never from other host paths. */
  home: string;
  /** Plans above these ask the user first (MCP elicitation). */
  approval: { maxExperiments: number; maxParallel: number };
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

export function planTools(deps: PlanToolDeps): ToolDef[] {
  const { catalog, plans } = deps;
  return [
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

// Checks a plan against its model once, before any container starts: the
// model is translated into the shared translation cache (so each experiment
// loads that translation instead of translating again) and every experiment
// object is validated against the model exactly as the kernel would, in a
// sandbox of its own (model-check.ts: loading a model runs its code). A model
// that does not translate, or a misspelled parameter, fails the whole plan
// once with PySD's message.
import { PeragusError, type PeragusErrorOptions } from '../errors/index.ts';
import type { ZygoteRegistry } from '../kernel/zygote.ts';
import type { Plan } from '../schemas/plan.ts';
import { runModelCheck } from './model-check.ts';

export interface PlanCheckResult {
  model_sha256: string;
  /** sha256 of the cached translation (absent for PySD .py models). */
  py_sha256: string | null;
}

export class PlanCheckError extends PeragusError {
  override name = 'PlanCheckError';
  constructor(message: string, options?: PeragusErrorOptions) {
    super('plan_check_failed', message, options);
  }
}

const CHECK_TIMEOUT_MS = 300_000;

export async function checkPlanModel(options: {
  home: string;
  plan: Plan;
  modelText: string;
  experiments: Record<string, unknown>[];
  /** The kernel zygote the check is forked from (model-check.ts), or null for a cold check. */
  zygote?: ZygoteRegistry | null;
}): Promise<PlanCheckResult> {
  const { plan } = options;
  // The text the plan's experiments get (each copies it into its volume), checked as that: a
  // scratch file in the check's own folder. A CLI plan's model folder is not shown to the check:
  // it may be private (0700, beyond the sandbox user), the Peragus home or one of its parents.
  const model = { content: options.modelText, name: plan.model.source };
  const { sha256, reply, output, code } = await runModelCheck({
    home: options.home,
    model,
    format: plan.model.format ?? null,
    experiments: options.experiments,
    timeoutMs: CHECK_TIMEOUT_MS,
    zygote: options.zygote ?? null,
  });
  if (!reply) {
    throw new PlanCheckError(
      `the PySD plan check failed (exit ${code}): ${output}; run npm run setup if it cannot start`,
    );
  }
  if (!reply.ok) {
    throw new PlanCheckError(
      `the plan was not started: ${reply.error ?? 'the model check failed'} (model ${plan.model.source}; fix the model or the plan and run it again)`,
    );
  }
  return {
    model_sha256: sha256,
    py_sha256: (reply.py_sha256 as string | null) ?? null,
  };
}

// The modeller's workbench: models (upload, examples, description), designs
// checked before they run, a design run as one experiment (cells of a host
// notebook, through the same MCP tools an agent calls, registered in the
// catalog like an agent's) or as a plan, and the plan and chart views.
import { randomBytes } from 'node:crypto';
import type { Catalog } from '../catalog/catalog.ts';
import type { EventBus } from '../notebook/events.ts';
import { flattenMetrics } from '../orchestrator/lifecycle.ts';
import type { PlanRunner } from '../orchestrator/plans.ts';
import { Charts } from './charts.ts';
import { type CheckedDesign, checkDesign } from './design.ts';
import { WorkbenchError } from './errors.ts';
import { ModelStore } from './models.ts';
import { PlanWatch } from './plan-view.ts';

/** Calls a host MCP tool and returns its structured result (throws the tool's error). */
export type ToolCaller = (name: string, args: Record<string, unknown>) => Promise<Record<string, unknown>>;

export interface WorkbenchDeps {
  home: string;
  catalog: Catalog;
  plans: PlanRunner;
  events: EventBus;
  callTool: ToolCaller;
  log?: (message: string) => void;
}

export interface Started {
  mode: 'single' | 'plan';
  experiment_id?: string;
  session_id?: string;
  plan_id?: string;
  count: number;
}

const slug = (s: string) =>
  s
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .toLowerCase()
    .slice(0, 40) || 'experiment';

export class Workbench {
  readonly models: ModelStore;
  readonly charts: Charts;
  readonly plans: PlanWatch;

  readonly #deps: WorkbenchDeps;
  constructor(deps: WorkbenchDeps) {
    this.#deps = deps;
    this.models = new ModelStore(deps.home);
    this.charts = new Charts(deps.catalog);
    this.plans = new PlanWatch(deps.plans, deps.catalog, deps.events);
  }

  /** Checks a design against its model; nothing runs. */
  check(body: unknown): CheckedDesign {
    const modelId = (body as { model_id?: unknown })?.model_id;
    if (typeof modelId !== 'string')
      throw new WorkbenchError('invalid_input', 'model_id: choose a model first', 'model_id');
    return checkDesign(body, this.models.get(modelId).description);
  }

  async start(body: unknown): Promise<Started> {
    const checked = this.check(body);
    const { input, experiment, count } = checked;
    const meta = this.models.get(input.model_id);
    const name = input.name ?? `${meta.filename.replace(/\.[^.]+$/, '')}-${experiment.type}`;
    if (input.mode === 'plan') {
      const { plan } = this.#deps.plans.prepare({
        name,
        model: { source: meta.filename, format: meta.format },
        experiment,
        ...(input.grid ? { grid: input.grid } : {}),
        ...(input.targets ? { targets: input.targets } : {}),
        parallel_limit: input.parallel_limit,
        output_format: input.output_format,
        ...(input.retries !== undefined ? { retries: input.retries } : {}),
      });
      const started = await this.#deps.plans.start(plan, this.models.text(meta.model_id));
      return { mode: 'plan', plan_id: started.plan_id, count };
    }
    const experimentId = `${slug(name)}-${randomBytes(3).toString('hex')}`;
    const call = this.#deps.callTool;
    const nb = await call('notebook_create', { name, experiment_id: experimentId });
    const sessionId = String(nb.session_id);
    const run = async () => {
      const startedAt = new Date().toISOString();
      await this.#deps.catalog.upsertExperiment({
        experiment_id: experimentId,
        status: 'running',
        config: experiment as Record<string, unknown>,
        model_sha256: meta.sha256,
        session_id: sessionId,
        started_at: startedAt,
      });
      const modelPath = `models/${meta.filename}`;
      const loaded = await call('pysd_model_load', {
        session_id: sessionId,
        source: modelPath,
        content: this.models.text(meta.model_id),
      });
      const ran = await call('pysd_experiment_run', {
        session_id: sessionId,
        model_id: loaded.model_id,
        experiment,
        output_format: input.output_format,
      });
      const exported = await call('notebook_export', { session_id: sessionId, format: 'srcmd' });
      const refs = [
        ...((ran.artifacts as { path: string; sha256?: string }[]) ?? []),
        ...((exported.artifacts as { path: string; sha256?: string }[]) ?? []),
        { path: modelPath },
      ];
      await call('experiment_register_result', {
        experiment_id: experimentId,
        session_id: sessionId,
        artifacts: refs.map((r) => ({ path: r.path, ...(r.sha256 ? { sha256: r.sha256 } : {}) })),
        metrics: flattenMetrics(ran.metrics),
        config: experiment as Record<string, unknown>,
      });
    };
    run().catch(async (err: Error) => {
      this.#deps.log?.(`workbench experiment ${experimentId} failed: ${err.message}`);
      await this.#deps.catalog
        .upsertExperiment({ experiment_id: experimentId, status: 'failed', error: err.message })
        .catch(() => undefined);
    });
    return { mode: 'single', experiment_id: experimentId, session_id: sessionId, count: 1 };
  }

  cancelPlan(planId: string): boolean {
    return this.#deps.plans.cancel(planId);
  }

  close(): void {
    this.plans.close();
  }
}

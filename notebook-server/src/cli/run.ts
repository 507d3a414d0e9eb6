// `peragus run PLAN.json`: runs a plan (the experiment_plan_run object) with a
// progress bar on stderr and prints a summary table. Exit code 1 if any failed.
// With a host running on this home, the plan runs there (experiment_plan_run
// over its MCP endpoint: the browser sees it); otherwise in this process.
import { createHash } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultRuntimeKind } from '../config/index.ts';
import { findHostOrSay } from '../hostlink/find.ts';
import { startZygoteEarly, zygoteDisabled } from '../kernel/zygote.ts';
import type { PlanSummary } from '../orchestrator/plans.ts';
import { forkedChecks } from '../sandbox/bwrap.ts';
import type { Plan } from '../schemas/plan.ts';
import type { CliContext } from './context.ts';
import { formatTable, progressBar } from './table.ts';

/**
 * A plan file's id: the home, the file's real path, the plan without parallel_limit (K changes
 * nothing about which configurations run) and the model text. Editing the plan
 * or the model makes a new plan; experiments of the old one keep their results.
 */
export function planIdForFile(home: string, file: string, plan: Plan, modelText: string): string {
  const { parallel_limit: _k, ...what } = plan;
  const hash = createHash('sha256')
    .update(home)
    .update('\0')
    .update(realpathSync(file))
    .update('\0')
    .update(JSON.stringify(what))
    .update('\0')
    .update(modelText)
    .digest('hex');
  return `plan-file-${hash.slice(0, 16)}`;
}

type Progress = (done: number, total: number, message: string) => void;

/** Model paths are relative to the plan file; the host gets the model text inline. */
function inlineModel(raw: Record<string, unknown>, planDir: string): void {
  const model = raw.model as { source?: unknown; content?: unknown } | undefined;
  if (!model || typeof model.source !== 'string' || model.content !== undefined) return;
  const path = isAbsolute(model.source) ? model.source : resolve(planDir, model.source);
  try {
    model.content = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the plan's model ${path}: ${(err as Error).message}`);
  }
}

async function runOnHost(raw: Record<string, unknown>, planDir: string, progress: Progress, cli: CliContext) {
  const address = await findHostOrSay(cli.config.home, cli.log);
  if (!address) return null;
  cli.log.info(`plan runs on the host ${address.url} (pid ${address.pid})`);
  inlineModel(raw, planDir);
  const { connectHost } = await import('../hostlink/client.ts');
  const client = await connectHost(address);
  try {
    const out = await client.call('experiment_plan_run', { ...raw, wait: true }, (p) =>
      progress(p.progress, p.total ?? 0, p.message ?? ''),
    );
    return out as unknown as PlanSummary;
  } finally {
    await client.close();
  }
}

async function runHere(
  file: string,
  raw: Record<string, unknown>,
  planDir: string,
  progress: Progress,
  cli: CliContext,
) {
  const kind = raw.runtime === undefined ? defaultRuntimeKind() : raw.runtime;
  // The zygote's imports are a local plan's critical path: they start before the host's modules load.
  if (kind === 'local' && forkedChecks() && !zygoteDisabled()) startZygoteEarly();
  const { createHost } = await import('../app/host.ts');
  const host = await createHost({
    resumePlans: false,
    poolSize: 0,
    config: cli.config,
    log: cli.log,
    ...(kind === 'local' ? { warm: 'local' as const } : {}),
  });
  try {
    const { plan } = host.plans.prepare(raw);
    // The person running the CLI owns the plan file: its model path is read relative to it.
    const modelText = host.plans.modelText(plan, planDir);
    // The same plan file (same content) on the same home is the same plan: a
    // run killed half-way continues, and registered experiments are not run again.
    const started = await host.plans.startOrContinue(
      planIdForFile(host.home, file, plan, modelText),
      plan,
      modelText,
    );
    cli.log.info(
      `plan ${started.plan_id}${started.resumed ? ' (continued)' : ''}: ${started.experiments.length} experiments, K=${plan.parallel_limit}`,
    );
    // Docker containers are not our children: a watchdog removes them if this process is killed.
    const reaper =
      (plan.runtime ?? defaultRuntimeKind()) === 'docker'
        ? (await import('../runtime/docker-reaper.ts')).startDockerReaper(started.plan_id, host.home)
        : null;
    host.plans.onProgress(started.plan_id, (p) => progress(p.done, p.total, p.message));
    return await host.plans.wait(started.plan_id).finally(() => reaper?.stop());
  } finally {
    await host.close();
  }
}

export async function runCommand(argv: string[], cli: CliContext): Promise<number | undefined> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { parallel: { type: 'string' }, json: { type: 'boolean' } },
  });
  const file = positionals[0];
  if (!file) throw new Error('usage: peragus run PLAN.json [--parallel K] [--json] (see peragus run --help)');
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`cannot read plan ${file}: ${(err as Error).message}`);
  }
  if (values.parallel !== undefined) {
    const k = Number(values.parallel);
    if (!Number.isInteger(k) || k < 1)
      throw new Error(`--parallel ${values.parallel}: give a whole number ≥ 1`);
    raw.parallel_limit = k;
  }
  const planDir = dirname(resolve(file));
  const tty = process.stderr.isTTY;
  const progress: Progress = (done, total, message) => {
    const bar = progressBar(done, total, message);
    process.stderr.write(tty ? `\r${bar.padEnd(120)}` : `${bar}\n`);
  };
  const summary =
    (await runOnHost(raw, planDir, progress, cli)) ?? (await runHere(file, raw, planDir, progress, cli));
  if (tty) process.stderr.write('\n');
  if (values.json) {
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  } else {
    const rows = summary.experiments.map((e) => [
      e.experiment_id,
      e.status,
      JSON.stringify(e.fixed),
      (e.duration_ms / 1000).toFixed(1),
      e.error ?? '',
    ]);
    process.stdout.write(
      `${formatTable(['experiment', 'status', 'parameters', 'seconds', 'error'], rows)}\n`,
    );
    process.stdout.write(
      `\n${summary.finished}/${summary.total} finished, ${summary.failed} failed, wall ${(summary.wall_ms / 1000).toFixed(1)} s (plan ${summary.plan_id})\n`,
    );
  }
  return summary.failed > 0 ? 1 : 0;
}

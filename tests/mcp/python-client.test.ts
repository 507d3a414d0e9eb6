// The official Python MCP client (tests/peers/requirements.txt) against
// `peragus serve`, as an agent: every tool typed, described and annotated;
// results valid against the declared schemas; a plan as an MCP task across a
// disconnect; cancel; and the bad-input errors of tasks and completions.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../helpers/sd-models.ts';
import { type Served, startServe } from '../helpers/serve.ts';

const PYTHON = join(REPO, 'tests/peers/.venv/bin/python');
const SCRIPT = join(REPO, 'tests/peers/mcp_agent_check.py');
const MODEL = join(REPO, 'notebooks/models/sir.mdl');

if (!existsSync(PYTHON)) {
  // npm test makes it (scripts/setup.mjs --system); a missing peer is a failure, not a skip.
  throw new Error(`${PYTHON} is missing: run "node scripts/setup.mjs --peers" (npm test does)`);
}

let served: Served;
beforeAll(async () => {
  served = await startServe();
});
afterAll(async () => {
  await served?.stop();
});

async function check(mode: 'schema' | 'tasks'): Promise<Record<string, unknown>> {
  const { stdout } = await promisify(execFile)(PYTHON, [SCRIPT, served.mcpUrl, served.token, MODEL, mode], {
    timeout: 900_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  const report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
  process.stdout.write(`\n[python mcp client: ${mode}] ${JSON.stringify(report).slice(0, 3000)}\n`);
  expect(report.error).toBeUndefined();
  return report;
}

describe('official Python MCP client', () => {
  it('sees typed, described, annotated tools and gets results valid against their schemas', async () => {
    const r = await check('schema');
    expect(r.tools).toBeGreaterThanOrEqual(28);
    expect(r.no_output_schema).toEqual([]);
    expect(r.no_description).toEqual([]);
    expect(r.no_annotations).toEqual([]);
    expect(r.undescribed_params).toEqual([]);
    expect(r.undescribed_experiment_fields).toEqual([]);
    expect(r.task_support).toMatchObject({
      experiment_plan_run: 'optional',
      pysd_experiment_run: 'optional',
    });
    expect(r.invalid_results).toEqual({});
    expect(r.called).toContain('notebook_restart');
    expect(r.run_count).toBe(20);
    expect(r.summary_run_count).toBe(20);
    expect((r.run_links as string[]).every((u) => u.startsWith('peragus://session/'))).toBe(true);
    expect(r.viz_inline_images).toBe(0);
    expect(r.png_mime).toBe('image/png');
  }, 600_000);

  it('runs a plan as a task across a disconnect, cancels another, and refuses bad task ids clearly', async () => {
    const r = await check('tasks');
    expect(r.created_status).toBe('working');
    expect(r.seen_working).toBe(true);
    // Partial results while it runs: the status message carries the plan's progress.
    expect((r.status_messages as string[]).some((m) => /\(\d\/3\)$/.test(m))).toBe(true);
    expect(r.final_status).toBe('completed');
    expect(r.plan_result).toEqual({ status: 'finished', total: 3, finished: 3, failed: 0 });
    expect(r.plan_result_invalid).toEqual([]);
    expect(r.plan_experiments).toEqual(['finished', 'finished', 'finished']);
    expect(r.cancel_finished_error).toMatch(/already completed.*cannot be changed or cancelled/);
    expect(r.foreign_task_error).toMatch(/unknown task .* belongs to this MCP session/);
    expect(r.unknown_task_error).toMatch(/unknown task "f{32}"/);
    expect(r.unknown_result_error).toMatch(/unknown task "f{32}"/);
    expect((r.completion_values as string[]).length).toBe(3);
    expect(r.completion_unknown_arg_error).toMatch(/has no argument "nope"; its arguments: id/);
    expect(r.cancel_status).toBe('cancelled');
    expect(r.after_cancel_status).toBe('cancelled');
    expect(r.containers_after_cancel).toBe(0);
    expect(r.cancelled_plan_statuses).not.toContain('running');
    expect(r.cancelled_plan_statuses).toContain('cancelled');
  }, 900_000);
});

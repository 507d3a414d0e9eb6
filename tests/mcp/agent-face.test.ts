// The agent-facing details of the MCP face, through the SDK client on an
// in-process host: experiment_list newest first with filters and cursors,
// catalog_query pages, forged cursors, resource reads that try to leave a
// work dir, a dead kernel restarted, prompts and completion errors.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Json, startTestHost, type TestHost } from '../helpers/host.ts';
import { REPO } from '../helpers/sd-models.ts';

let t: TestHost;
const ids: string[] = [];
let middle = '';

beforeAll(async () => {
  t = await startTestHost();
  for (let i = 0; i < 7; i++) {
    const id = `face-${i}`;
    if (i === 4) middle = new Date().toISOString();
    await t.host.catalog.upsertExperiment({
      experiment_id: id,
      plan_id: i % 2 === 0 ? 'plan-even' : 'plan-odd',
      status: i === 6 ? 'failed' : 'finished',
      ...(i === 6 ? { error: 'x'.repeat(1000) } : {}),
    });
    ids.push(id);
    await new Promise((r) => setTimeout(r, 5));
  }
});
afterAll(async () => {
  await t?.close();
});

const listIds = (r: Json) => (r.experiments as { experiment_id: string }[]).map((e) => e.experiment_id);

describe('experiment_list', () => {
  it('is newest first, paged by cursor, filtered, with compact rows', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await t.call('experiment_list', { limit: 3, ...(cursor ? { cursor } : {}) });
      expect(page.total).toBe(7);
      seen.push(...listIds(page));
      cursor = page.next_cursor as string | undefined;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());

    const odd = await t.call('experiment_list', { plan_id: 'plan-odd' });
    expect(listIds(odd)).toEqual(['face-5', 'face-3', 'face-1']);
    const failed = await t.call('experiment_list', { status: 'failed' });
    const row = (failed.experiments as Json[])[0]!;
    expect(row.experiment_id).toBe('face-6');
    expect((row.error as string).length).toBeLessThan(310);
    expect(Object.keys(row).sort()).toEqual(
      [
        'artifact_count',
        'created_at',
        'error',
        'experiment_id',
        'finished_at',
        'metrics',
        'plan_id',
        'status',
      ].sort(),
    );
    const recent = await t.call('experiment_list', { created_after: middle });
    expect(listIds(recent)).toEqual(['face-6', 'face-5', 'face-4']);
  });

  it('refuses a forged cursor with a message naming the fix', async () => {
    const forged = Buffer.from(JSON.stringify({ us: '1 OR 1=1', id: 'x' })).toString('base64url');
    for (const cursor of ['not-a-cursor', forged]) {
      const msg = await t.callError('experiment_list', { cursor });
      expect(msg).toMatch(/invalid cursor: pass next_cursor/);
    }
  });
});

describe('catalog_query pages', () => {
  it('continues the same sql with next_cursor and refuses another query or a forged cursor', async () => {
    const sql = 'SELECT experiment_id FROM experiments ORDER BY experiment_id';
    const first = await t.call('catalog_query', { sql, row_limit: 4 });
    expect(first.truncated).toBe(true);
    const second = await t.call('catalog_query', { sql, row_limit: 4, cursor: first.next_cursor });
    expect(second.truncated).toBe(false);
    expect(second.next_cursor).toBeUndefined();
    const rows = [...(first.rows as Json[]), ...(second.rows as Json[])].map((r) => r.experiment_id);
    expect(rows).toEqual(ids);
    const other = await t.callError('catalog_query', {
      sql: 'SELECT 1',
      row_limit: 4,
      cursor: first.next_cursor,
    });
    expect(other).toMatch(/belongs to another query/);
    expect(await t.callError('catalog_query', { sql, cursor: '../../x' })).toMatch(/invalid cursor/);
  });
});

describe('sessions through the agent face', () => {
  it('serves files of a session as resources and refuses paths that leave its work dir', async () => {
    const nb = await t.call('notebook_create', { name: 'face-files' });
    const sid = nb.session_id as string;
    // A subscribed session state is updated when the session changes (no log level set).
    const updated: string[] = [];
    t.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      updated.push(n.params.uri);
    });
    await t.client.subscribeResource({ uri: `notebook://session/${sid}/state` });
    await t.call('cell_add', {
      session_id: sid,
      source: 'open("note.txt", "w").write("hello")',
      execute: true,
    });
    for (let i = 0; i < 50 && !updated.includes(`notebook://session/${sid}/state`); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(updated).toContain(`notebook://session/${sid}/state`);
    const ok = await t.client.readResource({ uri: `peragus://session/${sid}/files/note.txt` });
    expect((ok.contents[0] as { text: string }).text).toBe('hello');
    for (const path of ['../../../../etc/passwd', '%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/etc/passwd']) {
      await expect(t.client.readResource({ uri: `peragus://session/${sid}/files/${path}` })).rejects.toThrow(
        // URL normalization may drop the dot segments first: then no resource matches at all.
        /escapes|absolute|outside|no file|not found/,
      );
    }
    await expect(t.client.readResource({ uri: 'peragus://session/nope/files/x' })).rejects.toThrow(
      /unknown session "nope"/,
    );

    // A dead kernel is restarted by notebook_restart and runs again.
    const died = await t.call('cell_add', {
      session_id: sid,
      source: 'import os\nos._exit(1)',
      execute: true,
    });
    expect((died.run as Json).status).not.toBe('ok');
    const restarted = await t.call('notebook_restart', { session_id: sid });
    expect(restarted.restarted).toBe(true);
    const again = await t.call('cell_add', { session_id: sid, source: 'print(6 * 7)', execute: true });
    const run = again.run as { status: string; outputs: { text?: string }[] };
    expect(run.status).toBe('ok');
    expect(run.outputs.map((o) => o.text).join('')).toContain('42');
  });

  it('runs pysd_experiment_run as a task (TypeScript SDK client) with a valid result', async () => {
    const nb = await t.call('notebook_create', { name: 'face-task' });
    const sid = nb.session_id as string;
    const loaded = await t.call('pysd_model_load', {
      session_id: sid,
      source: 'models/sir.mdl',
      content: readFileSync(join(REPO, 'notebooks/models/sir.mdl'), 'utf8'),
    });
    const kinds: string[] = [];
    let result: Json | undefined;
    const stream = t.client.experimental.tasks.callToolStream(
      {
        name: 'pysd_experiment_run',
        arguments: {
          session_id: sid,
          model_id: loaded.model_id,
          experiment: { type: 'monte_carlo', samples: 10, seed: 2, parameters: { 'Contact Rate': [4, 8] } },
        },
      },
      undefined,
      { task: { ttl: 120_000 }, timeout: 600_000 },
    );
    for await (const message of stream) {
      kinds.push(message.type);
      if (message.type === 'result') result = message.result.structuredContent as Json;
      if (message.type === 'error') throw message.error;
    }
    expect(kinds[0]).toBe('taskCreated');
    expect(kinds.at(-1)).toBe('result');
    expect(result?.run_count).toBe(10);
    const { tasks } = await t.client.experimental.tasks.listTasks();
    expect(tasks.some((task) => task.status === 'completed')).toBe(true);
  });

  it('offers prompts that name the tools, completes ids, and names unknown arguments', async () => {
    const { prompts } = await t.client.listPrompts();
    expect(prompts.map((p) => p.name).sort()).toEqual([
      'calibrate_to_data',
      'design_sensitivity_study',
      'explore_scenarios_and_report',
    ]);
    const p = await t.client.getPrompt({ name: 'design_sensitivity_study', arguments: { model: 'sir.mdl' } });
    const text = (p.messages[0]?.content as { text?: string } | undefined)?.text ?? '';
    for (const tool of [
      'pysd_model_load',
      'pysd_experiment_run',
      'pysd_visualize',
      'experiment_register_result',
    ]) {
      expect(text).toContain(tool);
    }
    const ref = { type: 'ref/resource' as const, uri: 'experiment://{id}/summary' };
    const done = await t.client.complete({ ref, argument: { name: 'id', value: 'face-' } });
    expect(done.completion.values).toEqual([...ids].reverse());
    await expect(t.client.complete({ ref, argument: { name: 'plan', value: '' } })).rejects.toThrow(
      /has no argument "plan"; its arguments: id/,
    );
    const { resources } = await t.client.listResources();
    expect(resources.map((r) => r.uri)).toEqual(
      expect.arrayContaining(['plan://plan-odd', 'plan://plan-even']),
    );
    const plan = await t.client.readResource({ uri: 'plan://plan-odd' });
    expect(JSON.parse((plan.contents[0] as { text: string }).text).total).toBe(3);
    await expect(t.client.readResource({ uri: 'plan://nope' })).rejects.toThrow(/no plan "nope"/);
    // A subscribed plan is updated when one of its experiments changes.
    const planUpdates: string[] = [];
    t.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      planUpdates.push(n.params.uri);
    });
    await t.client.subscribeResource({ uri: 'plan://plan-odd' });
    await t.host.catalog.upsertExperiment({
      experiment_id: 'face-7',
      plan_id: 'plan-odd',
      status: 'running',
    });
    for (let i = 0; i < 50 && !planUpdates.includes('plan://plan-odd'); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(planUpdates).toContain('plan://plan-odd');
    const planIds = await t.client.complete({
      ref: { type: 'ref/resource', uri: 'plan://{plan_id}' },
      argument: { name: 'plan_id', value: 'plan-o' },
    });
    expect(planIds.completion.values).toEqual(['plan-odd']);
    const prompt = { type: 'ref/prompt' as const, name: 'calibrate_to_data' };
    await expect(t.client.complete({ ref: prompt, argument: { name: 'colour', value: '' } })).rejects.toThrow(
      /prompt calibrate_to_data has no argument "colour"; its arguments: model, data, variable/,
    );
  });
});

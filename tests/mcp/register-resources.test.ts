// experiment_register_result through MCP (artifacts from a host session's work
// dir, checksums verified, idempotent), and the experiment:// resources with
// updated notifications for subscribers.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Json, startTestHost, type TestHost } from '../helpers/host.ts';
import { REPO } from '../helpers/sd-models.ts';

let t: TestHost;
const updated: string[] = [];

beforeAll(async () => {
  t = await startTestHost({ poolSize: 1 });
  t.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
    updated.push(n.params.uri);
  });
});

afterAll(async () => {
  await t?.close();
});

describe('registering results', () => {
  it('registers once, refuses a wrong checksum, and notifies subscribers', async () => {
    const nb = await t.call('notebook_create', { name: 'reg', experiment_id: 'reg-1' });
    const sid = nb.session_id as string;
    const loaded = await t.call('pysd_model_load', {
      session_id: sid,
      source: 'models/sir.mdl',
      content: readFileSync(join(REPO, 'notebooks/models/sir.mdl'), 'utf8'),
    });
    const run = await t.call('pysd_experiment_run', {
      session_id: sid,
      model_id: loaded.model_id,
      experiment: { type: 'single', metrics: [{ variable: 'Infected', stat: 'max' }] },
    });
    const artifacts = (run.artifacts as { path: string; sha256: string }[]).map(({ path, sha256 }) => ({
      path,
      sha256,
    }));

    await t.client.subscribeResource({ uri: 'experiment://reg-1/summary' });
    const args = { experiment_id: 'reg-1', session_id: sid, artifacts, metrics: { peak: 123.5 } };
    const first = await t.call('experiment_register_result', args);
    expect(first.outcome).toBe('registered');
    const again = await t.call('experiment_register_result', args);
    expect(again.outcome).toBe('unchanged');

    const wrong = await t.callError('experiment_register_result', {
      ...args,
      replace: true,
      artifacts: [{ ...artifacts[0], sha256: '0'.repeat(64) }],
    });
    expect(wrong).toMatch(/checksum|sha256/i);
    const outside = await t.callError('experiment_register_result', {
      ...args,
      replace: true,
      artifacts: [{ path: '../../../etc/passwd' }],
    });
    expect(outside).toMatch(/escapes|outside/);

    const summary = await t.client.readResource({ uri: 'experiment://reg-1/summary' });
    const body = JSON.parse((summary.contents[0] as { text: string }).text) as Json;
    expect(body.status).toBe('finished');
    const metrics = await t.client.readResource({ uri: 'experiment://reg-1/metrics' });
    expect(JSON.parse((metrics.contents[0] as { text: string }).text)).toMatchObject({ peak: 123.5 });
    for (let i = 0; i < 50 && !updated.includes('experiment://reg-1/summary'); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(updated).toContain('experiment://reg-1/summary');
    // Not subscribed: no notification for it.
    expect(updated).not.toContain('experiment://reg-1/artifacts');
  }, 300_000);
});

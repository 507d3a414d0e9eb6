// Bad input to the PySD tools is a tool error naming the problem, and the
// session stays usable afterwards.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHost, type Host } from '../../notebook-server/src/app/host.ts';
import { REPO } from '../helpers/sd-models.ts';

type Json = Record<string, unknown>;
let home: string;
let host: Host;
let client: Client;
let sid: string;
let modelId: string;

async function call(name: string, args: Json): Promise<Json> {
  const r = await client.callTool({ name, arguments: args });
  if (r.isError) throw new Error(`${name}: ${JSON.stringify(r.content)}`);
  return r.structuredContent as Json;
}

async function refused(name: string, args: Json, pattern: RegExp): Promise<void> {
  const r = await client.callTool({ name, arguments: args });
  expect(r.isError, `${name} should fail`).toBe(true);
  expect((r.content as { text: string }[]).map((c) => c.text).join('\n')).toMatch(pattern);
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'peragus-bad-'));
  host = await createHost({ home, poolSize: 1, resumePlans: false });
  const [a, b] = InMemoryTransport.createLinkedPair();
  await host.makeMcpServer().connect(a);
  client = new Client({ name: 'bad-input', version: '1' });
  await client.connect(b);
  sid = (await call('notebook_create', { name: 'bad' })).session_id as string;
  const loaded = await call('pysd_model_load', {
    session_id: sid,
    source: 'models/coffee.mdl',
    content: readFileSync(join(REPO, 'notebooks/models/coffee.mdl'), 'utf8'),
  });
  modelId = loaded.model_id as string;
});

afterAll(async () => {
  await client?.close();
  await host?.close();
  rmSync(home, { recursive: true, force: true });
});

describe('PySD tools refuse bad input clearly', () => {
  it('a model PySD cannot translate', async () => {
    await refused(
      'pysd_model_load',
      { session_id: sid, source: 'models/broken.mdl', content: '{UTF-8}\nStock = INTEG( (((, \n|\n' },
      /broken\.mdl/,
    );
  });

  it('a path outside the work dir', async () => {
    await refused(
      'pysd_model_load',
      { session_id: sid, source: '../../outside.mdl' },
      /must not contain '\.\.'|escapes/,
    );
    await refused(
      'pysd_model_load',
      { session_id: sid, source: '/etc/passwd' },
      /relative to the work dir|absolute/,
    );
  });

  it('an unknown parameter name, naming it', async () => {
    await refused(
      'pysd_experiment_run',
      {
        session_id: sid,
        model_id: modelId,
        experiment: { type: 'sweep', parameters: { 'Colling Time': [1, 2] } },
      },
      /Colling Time/,
    );
  });

  it('a range with min > max', async () => {
    await refused(
      'pysd_experiment_run',
      {
        session_id: sid,
        model_id: modelId,
        experiment: { type: 'lhs', samples: 5, parameters: { 'Cooling Time': [9, 2] } },
      },
      /min <= max|min > max|min.*max/,
    );
  });

  it('an unsupported experiment type, listing the supported ones', async () => {
    await refused(
      'pysd_experiment_run',
      { session_id: sid, model_id: modelId, experiment: { type: 'genetic' } },
      /unsupported experiment type.*lhs/,
    );
  });

  it('an unknown model id', async () => {
    await refused('pysd_model_analyze', { session_id: sid, model_id: 'no-such-model' }, /no-such-model/);
  });

  it('leaves the session usable', async () => {
    const run = await call('pysd_experiment_run', {
      session_id: sid,
      model_id: modelId,
      experiment: { type: 'single', metrics: [{ variable: 'Coffee Temperature', stat: 'final' }] },
    });
    expect(run.run_count).toBe(1);
  });
});

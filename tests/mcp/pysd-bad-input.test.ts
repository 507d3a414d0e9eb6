// Bad input to the PySD tools is a tool error naming the problem, and the
// session stays usable afterwards.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Json, startTestHost, type TestHost } from '../helpers/host.ts';
import { REPO } from '../helpers/sd-models.ts';

let t: TestHost;
let sid: string;
let modelId: string;
const call = (name: string, args: Json) => t.call(name, args);

async function refused(name: string, args: Json, pattern: RegExp): Promise<void> {
  expect(await t.callError(name, args)).toMatch(pattern);
}

beforeAll(async () => {
  t = await startTestHost({ poolSize: 1 });
  sid = (await call('notebook_create', { name: 'bad' })).session_id as string;
  const loaded = await call('pysd_model_load', {
    session_id: sid,
    source: 'models/coffee.mdl',
    content: readFileSync(join(REPO, 'notebooks/models/coffee.mdl'), 'utf8'),
  });
  modelId = loaded.model_id as string;
});

afterAll(async () => {
  await t?.close();
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

// The same experiment lifecycle against both runtimes, through the host's MCP
// tools: create → notebook_create → load teacup → LHS of 20 → export srcmd →
// cp_out the Parquet file → destroy. The Parquet files are byte-identical.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerTestsEnabled } from '../helpers/docker.ts';
import { type Json, startTestHost, type TestHost } from '../helpers/host.ts';
import { REPO, requireSdModels } from '../helpers/sd-models.ts';

const suite = requireSdModels();
const modelFile = suite
  ? join(suite, 'samples/teacup/teacup.mdl')
  : join(REPO, 'notebooks/models/coffee.mdl');
const param = suite ? 'Characteristic Time' : 'Cooling Time';
const withDocker = dockerTestsEnabled();

let t: TestHost;
const call = (name: string, args: Json) => t.call(name, args);

beforeAll(async () => {
  t = await startTestHost();
});

afterAll(async () => {
  await t?.close();
});

async function lifecycle(runtime: 'local' | 'docker'): Promise<Buffer> {
  const created = await call('container_create', {
    runtime,
    experiment_id: `life-${runtime}`,
    resources: { cpu: 1, memory: '2g' },
  });
  const cid = created.container_id as string;
  const nb = await call('notebook_create', { name: `life-${runtime}`, container_id: cid });
  const sid = nb.session_id as string;
  const loaded = await call('pysd_model_load', {
    session_id: sid,
    source: 'models/teacup.mdl',
    content: readFileSync(modelFile, 'utf8'),
  });
  const run = await call('pysd_experiment_run', {
    session_id: sid,
    model_id: loaded.model_id,
    experiment: { type: 'lhs', samples: 20, seed: 11, parameters: { [param]: [5, 15] } },
  });
  const parquet = (run.artifacts as { path: string; sha256: string }[]).find((a) =>
    a.path.endsWith('runs.parquet'),
  );
  expect(parquet).toBeDefined();
  const exported = await call('notebook_export', { session_id: sid, format: 'srcmd', inline: true });
  expect((exported.content as string).includes('run_experiment')).toBe(true);
  const out = await call('container_cp_out', { container_id: cid, src: parquet!.path });
  expect(out.sha256).toBe(parquet!.sha256);
  const bytes = readFileSync(out.path as string);
  expect((await call('container_destroy', { container_id: cid })).removed).toBe(true);
  expect((await call('container_destroy', { container_id: cid })).removed).toBe(false);
  return bytes;
}

describe('one lifecycle, two runtimes', () => {
  let localParquet: Buffer;
  it('local runtime', async () => {
    localParquet = await lifecycle('local');
    expect(localParquet.length).toBeGreaterThan(0);
  }, 600_000);

  it.runIf(withDocker)(
    'docker runtime gives byte-identical Parquet',
    async () => {
      const dockerParquet = await lifecycle('docker');
      expect(dockerParquet.equals(localParquet)).toBe(true);
    },
    600_000,
  );
});

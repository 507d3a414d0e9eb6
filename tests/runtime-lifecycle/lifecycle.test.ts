// The same experiment lifecycle against both runtimes, through the host's MCP
// tools: create → notebook_create → load teacup → LHS of 20 → export srcmd →
// cp_out the Parquet file → destroy. The Parquet files are byte-identical.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHost, type Host } from '../../notebook-server/src/app/host.ts';
import { dockerTestsEnabled } from '../helpers/docker.ts';
import { REPO, requireSdModels } from '../helpers/sd-models.ts';

type Json = Record<string, unknown>;
const suite = requireSdModels();
const modelFile = suite
  ? join(suite, 'samples/teacup/teacup.mdl')
  : join(REPO, 'notebooks/models/coffee.mdl');
const param = suite ? 'Characteristic Time' : 'Cooling Time';
const withDocker = dockerTestsEnabled();

let home: string;
let host: Host;
let client: Client;

async function call(name: string, args: Json): Promise<Json> {
  const r = await client.callTool({ name, arguments: args }, undefined, {
    timeout: 600_000,
    resetTimeoutOnProgress: true,
  });
  if (r.isError) throw new Error(`${name}: ${JSON.stringify(r.content)}`);
  return r.structuredContent as Json;
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'peragus-life-'));
  host = await createHost({ home, poolSize: 0 });
  const [a, b] = InMemoryTransport.createLinkedPair();
  await host.makeMcpServer().connect(a);
  client = new Client({ name: 'lifecycle', version: '1' });
  await client.connect(b);
});

afterAll(async () => {
  await client?.close();
  for (const kind of ['local', ...(withDocker ? ['docker' as const] : [])] as const) {
    for (const c of await host.containers.list(undefined, kind))
      await host.containers.destroy(c.container_id);
  }
  await host?.close();
  rmSync(home, { recursive: true, force: true });
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
  const exported = await call('notebook_export', { session_id: sid, format: 'srcmd' });
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

// The whole agent flow through the SDK's own Client, over stdio (`peragus mcp`)
// and over Streamable HTTP (`/mcp` of the host server): create → load teacup →
// LHS of 50 runs → analyse → visualise → export srcmd; then notebook_import of
// that export into a new session and `cell_execute all` reproduce
// byte-identical Parquet files.
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, describe, expect, it } from 'vitest';
import { createHost, type Host } from '../../notebook-server/src/app/host.ts';
import { type HostServer, startHostServer } from '../../notebook-server/src/http/server.ts';
import { createMcpHttpHandler } from '../../notebook-server/src/mcp/http.ts';
import { REPO, requireSdModels } from '../helpers/sd-models.ts';

type Json = Record<string, unknown>;
interface Artifact {
  path: string;
  sha256: string;
  bytes: number;
  media_type: string;
}

const suite = requireSdModels();
const model = suite
  ? {
      source: 'models/teacup.mdl',
      file: join(suite, 'samples/teacup/teacup.mdl'),
      param: 'Characteristic Time',
      range: [5, 15],
      out: 'Teacup Temperature',
    }
  : {
      source: 'models/coffee.mdl',
      file: join(REPO, 'notebooks/models/coffee.mdl'),
      param: 'Cooling Time',
      range: [4, 12],
      out: 'Coffee Temperature',
    };

function caller(client: Client) {
  return async (name: string, args: Json): Promise<Json> => {
    const r = await client.callTool({ name, arguments: args }, undefined, {
      timeout: 600_000,
      resetTimeoutOnProgress: true,
    });
    if (r.isError) throw new Error(`${name}: ${JSON.stringify(r.content)}`);
    return r.structuredContent as Json;
  };
}

async function fullFlow(client: Client): Promise<void> {
  const call = caller(client);
  const nb = await call('notebook_create', { name: 'flow' });
  const sid = nb.session_id as string;
  const workDir = nb.work_dir as string;
  const loaded = await call('pysd_model_load', {
    session_id: sid,
    source: model.source,
    content: readFileSync(model.file, 'utf8'),
  });
  expect((loaded.stocks as unknown[]).length).toBeGreaterThan(0);
  const progress: { progress: number; total?: number }[] = [];
  const r = await client.callTool(
    {
      name: 'pysd_experiment_run',
      arguments: {
        session_id: sid,
        model_id: loaded.model_id,
        experiment: {
          type: 'lhs',
          samples: 50,
          seed: 7,
          parameters: { [model.param]: model.range },
          metrics: [{ variable: model.out, stat: 'max' }],
        },
      },
    },
    undefined,
    { onprogress: (p) => progress.push(p), timeout: 600_000, resetTimeoutOnProgress: true },
  );
  expect(r.isError).toBeFalsy();
  const run = r.structuredContent as Json;
  expect(run.run_count).toBe(50);
  // The run's own progress display reached the client as MCP progress.
  expect(progress.some((p) => p.progress === 50 && p.total === 50)).toBe(true);
  // Summaries and references, never the data itself.
  expect(JSON.stringify(run).length).toBeLessThan(64 * 1024);
  const parquet = (run.artifacts as Artifact[]).filter((a) => a.path.endsWith('.parquet'));
  expect(parquet.length).toBeGreaterThan(0);

  const analysis = await call('pysd_model_analyze', { session_id: sid, model_id: loaded.model_id });
  expect(JSON.stringify(analysis)).toContain(model.param);
  const viz = await client.callTool({
    name: 'pysd_visualize',
    arguments: {
      session_id: sid,
      target: (run.work_dir as string) ?? loaded.model_id,
      kind: 'fan',
      variables: [model.out],
      preview: true,
    },
  });
  expect(viz.isError).toBeFalsy();
  const blocks = viz.content as { type: string; uri?: string }[];
  expect(blocks.some((c) => c.type === 'image')).toBe(true);
  // The PNG itself is a resource link the client can read.
  const link = blocks.find((c) => c.type === 'resource_link');
  expect(link?.uri).toMatch(/^peragus:\/\/session\//);
  const png = await client.readResource({ uri: link!.uri! });
  expect((png.contents[0] as { mimeType?: string }).mimeType).toBe('image/png');

  const exported = await call('notebook_export', { session_id: sid, format: 'srcmd' });
  const [srcmdRef, outputsRef] = exported.artifacts as Artifact[];
  const srcmd = readFileSync(join(workDir, srcmdRef!.path), 'utf8');
  const outputs = readFileSync(join(workDir, outputsRef!.path), 'utf8');

  const again = await call('notebook_import', { format: 'srcmd', content: srcmd, outputs, name: 'replay' });
  const replayDir = again.work_dir as string;
  expect(replayDir).not.toBe(workDir);
  // The notebook names its model by path and sha256 (not inlined): the model goes beside it.
  expect(srcmd).not.toContain(readFileSync(model.file, 'utf8').slice(0, 200));
  expect(srcmd).toMatch(/sha256="[0-9a-f]{64}"/);
  cpSync(join(workDir, 'models'), join(replayDir, 'models'), { recursive: true });
  const all = await call('cell_execute', { session_id: again.session_id, cell_id: 'all' });
  expect(all.failed).toBe(0);
  for (const a of parquet) {
    const before = readFileSync(join(workDir, a.path));
    const after = readFileSync(join(replayDir, a.path));
    expect(after.equals(before)).toBe(true);
  }
}

describe('PySD flow through MCP', () => {
  const homes: string[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups) await c().catch(() => undefined);
    for (const h of homes) rmSync(h, { recursive: true, force: true });
  });

  it('over stdio', async () => {
    const home = mkdtempSync(join(tmpdir(), 'peragus-flow-stdio-'));
    homes.push(home);
    const client = new Client({ name: 'flow-stdio', version: '1' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [join(REPO, 'bin/peragus.js'), 'mcp'],
        env: { ...process.env, PERAGUS_HOME: home } as Record<string, string>,
        stderr: 'inherit',
      }),
    );
    cleanups.push(() => client.close());
    await fullFlow(client);
  }, 600_000);

  it('over Streamable HTTP with a token', async () => {
    const home = mkdtempSync(join(tmpdir(), 'peragus-flow-http-'));
    homes.push(home);
    const host: Host = await createHost({ home, poolSize: 1 });
    const token = 'flow-token';
    const server: HostServer = await startHostServer({
      sessions: host.notebook.sessions,
      events: host.notebook.events,
      token,
      home,
      port: 0,
      buildUi: false,
    });
    const mcp = createMcpHttpHandler(() => host.makeMcpServer(), {
      token,
      allowedHosts: [`127.0.0.1:${server.port}`],
      allowedOrigins: [`http://127.0.0.1:${server.port}`],
    });
    server.attachMcp((req, res) => mcp.handle(req, res));
    cleanups.push(async () => {
      await mcp.close();
      await server.close();
      await host.close();
    });

    const noToken = new Client({ name: 'no-token', version: '1' });
    await expect(
      noToken.connect(new StreamableHTTPClientTransport(new URL(`${server.url}mcp`))),
    ).rejects.toThrow();

    const client = new Client({ name: 'flow-http', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${server.url}mcp`), {
        requestInit: { headers: { Authorization: `Bearer ${token}` } },
      }),
    );
    cleanups.push(() => client.close());
    await fullFlow(client);
  }, 600_000);
});

// The README's agent session, as an agent runs it, through the SDK client:
// container → notebook → load → LHS run → fan plot → export → register →
// destroy, then a 2×2 plan, a catalog query and the experiment list. Returns
// the bytes of every tool result (the JSON the client receives), which is what
// an agent pays for in tokens.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { REPO } from '../helpers/sd-models.ts';

const LONG = { timeout: 1_800_000, resetTimeoutOnProgress: true };

export interface SessionBytes {
  total: number;
  perTool: { tool: string; bytes: number }[];
}

export async function runReadmeAgentSession(client: Client): Promise<SessionBytes> {
  const perTool: { tool: string; bytes: number }[] = [];
  const call = async (tool: string, args: Record<string, unknown>) => {
    const r = (await client.callTool({ name: tool, arguments: args }, undefined, LONG)) as CallToolResult;
    perTool.push({ tool, bytes: Buffer.byteLength(JSON.stringify(r)) });
    if (r.isError) throw new Error(`${tool}: ${JSON.stringify(r.content)}`);
    return r.structuredContent as Record<string, unknown>;
  };
  const model = readFileSync(join(REPO, 'notebooks/models/sir.mdl'), 'utf8');
  const { container_id } = await call('container_create', { experiment_id: 'readme-lhs' });
  const { session_id } = await call('notebook_create', { name: 'readme-lhs', container_id });
  const loaded = await call('pysd_model_load', { session_id, source: 'models/sir.mdl', content: model });
  const ran = await call('pysd_experiment_run', {
    session_id,
    model_id: loaded.model_id,
    experiment: {
      type: 'lhs',
      samples: 50,
      seed: 1,
      parameters: { 'Contact Rate': [4, 8] },
      metrics: [{ variable: 'Infected', stat: 'max' }],
    },
  });
  const artifacts = ran.artifacts as { path: string; sha256: string }[];
  const results = (ran.results_dir as string | undefined) ?? artifacts[0]?.path ?? '';
  const plot = await call('pysd_visualize', { session_id, target: results, kind: 'fan' });
  // The plot of a container session is readable through its resource link (not a tool result).
  const uri = (plot.artifacts as { uri: string }[])[0]?.uri ?? '';
  const png = await client.readResource({ uri });
  if (png.contents[0]?.mimeType !== 'image/png') throw new Error(`${uri} is not a PNG resource`);
  await call('notebook_export', { session_id, format: 'srcmd' });
  await call('experiment_register_result', {
    experiment_id: 'readme-lhs',
    container_id,
    session_id,
    artifacts: artifacts.map(({ path, sha256 }) => ({ path, sha256 })),
    metrics: { peak: 1 },
  });
  await call('container_destroy', { container_id });
  await call('experiment_plan_run', {
    model: { source: 'sir.mdl', content: model },
    experiment: { type: 'single', metrics: [{ variable: 'Infected', stat: 'max' }] },
    grid: { 'Contact Rate': [4, 8], Infectivity: [0.05, 0.1] },
    parallel_limit: 2,
  });
  await call('catalog_query', {
    sql: 'SELECT experiment_id, max("Infected") AS peak FROM results GROUP BY 1 ORDER BY 1',
  });
  await call('experiment_list', {});
  return { total: perTool.reduce((n, t) => n + t.bytes, 0), perTool };
}

// `peragus mcp` as an agent starts it (over stdio, the official SDK client) on a
// given home, and the host-restart scenario the local and swarm tests share:
// kill -9 of the host mid-plan, then a second host on the same home.
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { REPO } from './sd-models.ts';
import { waitFor } from './wait.ts';

export type Json = Record<string, unknown>;

export interface StdioHost {
  client: Client;
  pid: number;
  /** Calls a tool; throws with the tool's error text when it fails. */
  call(name: string, args: Json): Promise<Json>;
}

/** Starts `peragus mcp` with this environment over the process's own; `clients` collects it for closing. */
export async function startStdioHost(env: Record<string, string>, clients: Client[]): Promise<StdioHost> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [join(REPO, 'bin/peragus.js'), 'mcp'],
    env: { ...process.env, PERAGUS_POOL_SIZE: '0', ...env } as Record<string, string>,
    stderr: 'inherit',
  });
  const client = new Client({ name: 'restart', version: '1' });
  await client.connect(transport);
  clients.push(client);
  return {
    client,
    pid: transport.pid as number,
    async call(name, args) {
      const r = await client.callTool({ name, arguments: args }, undefined, { timeout: 600_000 });
      if (r.isError) throw new Error(`${name}: ${JSON.stringify(r.content)}`);
      return r.structuredContent as Json;
    },
  };
}

/**
 * Starts a plan (`wait: false`) on a first host, kills that host -9 once two experiments have
 * finished, starts a second host on the same home and waits until all `total` have finished.
 */
export async function killMidPlanAndRestart(
  startHost: () => Promise<StdioHost>,
  plan: Json,
  total: number,
  timeouts: { twoFinished: number; allFinished: number },
): Promise<{ second: StdioHost; planId: string }> {
  const first = await startHost();
  const started = await first.call('experiment_plan_run', { ...plan, wait: false });
  const planId = started.plan_id as string;
  const finishedCount = async (host: StdioHost) => {
    const list = await host.call('experiment_list', { plan_id: planId, limit: 100 });
    return (list.experiments as Json[]).filter((e) => e.status === 'finished').length;
  };
  await waitFor(
    'two finished experiments',
    async () => ((await finishedCount(first)) >= 2 ? true : undefined),
    timeouts.twoFinished,
    1000,
  );
  process.kill(first.pid, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 500));
  const second = await startHost();
  await waitFor(
    `all ${total} finished`,
    async () => ((await finishedCount(second)) === total ? true : undefined),
    timeouts.allFinished,
    1000,
  );
  return { second, planId };
}

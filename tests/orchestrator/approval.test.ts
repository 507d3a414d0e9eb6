// Plans above the approval threshold ask the user through MCP elicitation
// (and are refused cleanly when the client cannot ask); a failing experiment
// does not stop the rest of its plan.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHost, type Host } from '../../notebook-server/src/app/host.ts';
import { REPO } from '../helpers/sd-models.ts';

let home: string;
let host: Host;

const plan = {
  model: { source: 'sir.mdl', content: readFileSync(join(REPO, 'notebooks/models/sir.mdl'), 'utf8') },
  experiment: { type: 'single' },
  // The second target passes the plan check but its run divides by zero: that experiment fails.
  targets: [{ 'Contact Rate': 5 }, { 'Total Population': 0 }, { 'Contact Rate': 7 }],
  parallel_limit: 2,
  retries: 0,
};

async function connect(answer?: 'accept' | 'decline'): Promise<{ client: Client; asked: string[] }> {
  const asked: string[] = [];
  const client = new Client(
    { name: 'approver', version: '1' },
    answer ? { capabilities: { elicitation: { form: {} } } } : {},
  );
  if (answer) {
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked.push(req.params.message);
      return answer === 'accept' ? { action: 'accept', content: { approve: true } } : { action: 'decline' };
    });
  }
  const [a, b] = InMemoryTransport.createLinkedPair();
  await host.makeMcpServer().connect(a);
  await client.connect(b);
  return { client, asked };
}

beforeAll(async () => {
  process.env.PERAGUS_PLAN_APPROVE_EXPERIMENTS = '2';
  home = mkdtempSync(join(tmpdir(), 'peragus-approve-'));
  host = await createHost({ home, runtime: 'local', poolSize: 0, resumePlans: false });
});

afterAll(async () => {
  delete process.env.PERAGUS_PLAN_APPROVE_EXPERIMENTS;
  await host?.close();
  rmSync(home, { recursive: true, force: true });
});

describe('plan approval', () => {
  it('refuses when the client cannot ask the user', async () => {
    const { client } = await connect();
    const r = await client.callTool({ name: 'experiment_plan_run', arguments: plan });
    expect(r.isError).toBe(true);
    expect(JSON.stringify(r.content)).toMatch(/approval.*cannot ask/);
    await client.close();
  });

  it('starts nothing when the user declines', async () => {
    const { client, asked } = await connect('decline');
    const r = await client.callTool({ name: 'experiment_plan_run', arguments: plan });
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatch(/3 experiments/);
    expect(r.isError).toBe(true);
    expect(JSON.stringify(r.content)).toMatch(/did not approve/);
    await client.close();
  });

  it('runs after approval; the failing experiment does not stop the others', async () => {
    const { client, asked } = await connect('accept');
    const r = await client.callTool({ name: 'experiment_plan_run', arguments: plan }, undefined, {
      timeout: 600_000,
    });
    expect(asked).toHaveLength(1);
    expect(r.isError).toBeFalsy();
    const summary = r.structuredContent as {
      finished: number;
      failed: number;
      experiments: { status: string; error?: string }[];
    };
    expect(summary.finished).toBe(2);
    expect(summary.failed).toBe(1);
    const failed = summary.experiments.find((e) => e.status === 'failed');
    expect(failed?.error).toMatch(/every run of the experiment failed.*ZeroDivisionError/);
    await client.close();
  }, 600_000);
});

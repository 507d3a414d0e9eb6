// The MCP conformance suite's generic server scenarios
// (@modelcontextprotocol/conformance, pinned in package.json) against a real
// `peragus serve`. The suite's client sends no Authorization header, so the
// token travels as ?token= (which the host accepts as well).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../helpers/sd-models.ts';
import { type Served, startServe } from '../helpers/serve.ts';

const CLI = join(REPO, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
const SCENARIOS = [
  'server-initialize',
  'ping',
  'tools-list',
  'logging-set-level',
  'resources-list',
  'resources-subscribe',
  'resources-unsubscribe',
  'completion-complete',
  'prompts-list',
  'server-sse-multiple-streams',
];

let served: Served;
beforeAll(async () => {
  served = await startServe();
});
afterAll(async () => {
  await served?.stop();
});

describe('MCP conformance suite (generic server scenarios)', () => {
  for (const scenario of SCENARIOS) {
    it(scenario, async () => {
      const url = `${served.mcpUrl}?token=${served.token}`;
      const run = await promisify(execFile)(
        process.execPath,
        [CLI, 'server', '--url', url, '--scenario', scenario],
        {
          timeout: 120_000,
        },
      ).catch((err: { stdout?: string; stderr?: string; code?: number }) => err);
      const out = `${run.stdout ?? ''}${run.stderr ?? ''}`;
      const m = /Passed: (\d+)\/(\d+), (\d+) failed, (\d+) warnings/.exec(out);
      expect(m, out).not.toBeNull();
      const [, passed, total, failed, warnings] = m!.map(Number);
      expect({ passed, failed, warnings }, out).toEqual({ passed: total, failed: 0, warnings: 0 });
    }, 150_000);
  }
});

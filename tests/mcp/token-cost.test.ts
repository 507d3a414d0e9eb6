// Token cost for an agent: the bytes of the tool results of the README's
// whole agent session. BEFORE is the same session measured on the commit
// before issue 14 (f5601a5: no resource links, inline preview images, 3.6 KB
// experiment rows); the goal was half of it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHost, type TestHost } from '../helpers/host.ts';
import { runReadmeAgentSession } from './agent-session.ts';

/** Measured with this file's session on f5601a5 (the commit before issue 14). */
const BEFORE_BYTES = 55_944;

let t: TestHost;
beforeAll(async () => {
  t = await startTestHost({ runtime: 'local' });
});
afterAll(async () => {
  await t?.close();
});

describe('token cost of the README agent session', () => {
  it('reports the bytes of every tool result', async () => {
    const { total, perTool } = await runReadmeAgentSession(t.client);
    const lines = perTool.map((p) => `  ${p.tool.padEnd(28)} ${String(p.bytes).padStart(8)} B`);
    const tools = Buffer.byteLength(JSON.stringify(await t.client.listTools()));
    process.stdout.write(
      `\n[token cost] README agent session, tool results: ${total} B (before: ${BEFORE_BYTES} B, ` +
        `${Math.round((100 * total) / BEFORE_BYTES)} %)\n` +
        `${lines.join('\n')}\n  tools/list: ${tools} B\n`,
    );
    expect(perTool.length).toBe(11);
    expect(total).toBeLessThanOrEqual(BEFORE_BYTES / 2);
  }, 900_000);
});

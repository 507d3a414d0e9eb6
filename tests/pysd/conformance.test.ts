// A single run of SDXorg test models through the MCP tools matches the
// canonical output (rtol = atol = 1e-5, columns present in both). Prints a table
// model → pass/fail. PERAGUS_CONFORMANCE_MAX bounds how many models are tried
// (default 40, "all" for the whole suite).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHost, type TestHost } from '../helpers/host.ts';
import { requireSdModels } from '../helpers/sd-models.ts';
import { type ConformanceRow, checkModel, conformanceCandidates, formatTable } from './conformance.ts';

const suite = requireSdModels();
let t: TestHost;
let sessionId: string;
let workDir: string;

beforeAll(async () => {
  if (!suite) return;
  t = await startTestHost({ poolSize: 1 });
  const nb = await t.call('notebook_create', { name: 'conformance' });
  sessionId = nb.session_id as string;
  workDir = nb.work_dir as string;
}, 180_000);
afterAll(async () => {
  await t?.close();
});

describe.skipIf(!suite)('SDXorg test-model conformance', () => {
  it('at least 20 of the tried models (>= 25) match their canonical output', async () => {
    const all = conformanceCandidates(suite as string);
    const max =
      process.env.PERAGUS_CONFORMANCE_MAX === 'all'
        ? all.length
        : Number(process.env.PERAGUS_CONFORMANCE_MAX ?? 40);
    const candidates = all.slice(0, max);
    expect(candidates.length).toBeGreaterThanOrEqual(25);
    const rows: ConformanceRow[] = [];
    for (const c of candidates) rows.push(await checkModel(t, sessionId, workDir, c));
    process.stdout.write(`\n${formatTable(rows)}\n\n`);
    const translated = rows.filter((r) => r.outcome !== 'translate-error');
    expect(translated.length).toBeGreaterThanOrEqual(25);
    expect(rows.filter((r) => r.outcome === 'pass').length).toBeGreaterThanOrEqual(20);
  }, 1_800_000);
});

// A single run of SDXorg test models through the MCP tools matches the
// canonical output (rtol = atol = 1e-5, columns present in both). Prints a table
// model → pass/fail. The whole suite runs (PERAGUS_CONFORMANCE_MAX=N tries only
// the first N, for a quick local check). Every model passes except those that
// plain PySD itself gets wrong, named below with PySD's own outcome.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHost, type TestHost } from '../helpers/host.ts';
import { requireSdModels } from '../helpers/sd-models.ts';
import { type ConformanceRow, checkModel, conformanceCandidates, formatTable } from './conformance.ts';

const suite = requireSdModels();

/**
 * Models PySD 3.14.3 gets wrong on its own: the two numeric ones give the same
 * values with plain pysd.read_vensim(...).run() outside Peragus; the two run
 * errors are raised inside PySD (data loading, an unimplemented argument).
 */
const PYSD_OWN_FAILURES: Record<string, ConformanceRow['outcome']> = {
  allocate_available: 'fail', // allocation3[Dayton] @t=8: 139.0615 vs canonical 139.051
  arguments: 'fail', // nested macro arguments @t=9: 1.02096 vs canonical 1.01367
  data_from_other_model: 'run-error', // "Trying to interpolate data variable before loading the data"
  get_time_value: 'run-error', // NotImplementedError: 'relativeto=1' not implemented
};
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
  it('every model matches its canonical output, except the ones PySD itself gets wrong', async () => {
    const all = conformanceCandidates(suite as string);
    const limit = process.env.PERAGUS_CONFORMANCE_MAX;
    const max = limit === undefined || limit === 'all' ? all.length : Number(limit);
    const candidates = all.slice(0, max);
    expect(candidates.length).toBeGreaterThanOrEqual(25);
    const rows: ConformanceRow[] = [];
    for (const c of candidates) rows.push(await checkModel(t, sessionId, workDir, c));
    process.stdout.write(`\n${formatTable(rows)}\n\n`);
    const translated = rows.filter((r) => r.outcome !== 'translate-error');
    expect(translated.length).toBeGreaterThanOrEqual(25);
    const notPassing = Object.fromEntries(
      rows.filter((r) => r.outcome !== 'pass').map((r) => [r.model, r.outcome]),
    );
    const expected = Object.fromEntries(
      Object.entries(PYSD_OWN_FAILURES).filter(([model]) => rows.some((r) => r.model === model)),
    );
    expect(notPassing).toEqual(expected);
  }, 1_800_000);
});

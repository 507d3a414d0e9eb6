// Conformance against SDXorg's test-model suite: which models to try, and a
// single run of each through the tool path (load → run → read back → compare).
import { cpSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { KernelClient } from '../../notebook-server/src/kernel/index.ts';
import { experimentRunCode, modelLoadCode, PysdCellError } from '../../notebook-server/src/pysd/index.ts';
import { compareToCanonical, readCanonical, readTable, runCell } from './helpers.ts';

export interface Candidate {
  name: string;
  dir: string;
  mdl: string;
  output: string;
}

/** Vensim test models with a canonical output (output.csv or output.tab), sorted by folder name. */
export function conformanceCandidates(suite: string): Candidate[] {
  const root = join(suite, 'tests');
  const out: Candidate[] = [];
  for (const name of readdirSync(root).sort()) {
    const dir = join(root, name);
    const output = ['output.csv', 'output.tab'].map((f) => join(dir, f)).find((f) => existsSync(f));
    if (!output) continue;
    const mdls = readdirSync(dir).filter((f) => f.endsWith('.mdl'));
    const mdl =
      mdls.length === 1
        ? mdls[0]
        : (mdls.find((f) => f === `test_${name}.mdl`) ?? mdls.find((f) => f === `${name}.mdl`));
    if (mdl) out.push({ name, dir, mdl, output });
  }
  return out;
}

export type Outcome = 'pass' | 'fail' | 'translate-error' | 'run-error';

export interface ConformanceRow {
  model: string;
  outcome: Outcome;
  detail: string;
}

/** Copies the model folder into the work dir (data files travel with it) and checks one run. */
export async function checkModel(
  kernel: KernelClient,
  workDir: string,
  c: Candidate,
): Promise<ConformanceRow> {
  const rel = join('conformance', c.name);
  cpSync(c.dir, join(workDir, rel), { recursive: true });
  let modelId: string;
  try {
    const loaded = await runCell<{ model_id: string }>(
      kernel,
      modelLoadCode({ source: join(rel, c.mdl), name: `conf-${c.name}` }),
      'load_model',
    );
    modelId = loaded.model_id;
  } catch (err) {
    if (err instanceof PysdCellError)
      return { model: c.name, outcome: 'translate-error', detail: err.message.slice(0, 120) };
    throw err;
  }
  let runs: string;
  try {
    const s = await runCell<{
      artifacts: { role: string; path: string }[];
      failed_runs: number;
      errors: { error: string }[];
    }>(
      kernel,
      experimentRunCode({ model_id: modelId, experiment: { type: 'single' }, name: `conf-${c.name}` }),
      'run_experiment',
    );
    if (s.failed_runs > 0)
      return { model: c.name, outcome: 'run-error', detail: (s.errors[0]?.error ?? '').slice(0, 120) };
    runs = s.artifacts.find((a) => a.role === 'runs')?.path ?? '';
  } catch (err) {
    if (err instanceof PysdCellError)
      return { model: c.name, outcome: 'run-error', detail: err.message.slice(0, 120) };
    throw err;
  }
  const cmp = compareToCanonical(readCanonical(c.output), await readTable(kernel, runs));
  const detail = cmp.reason
    ? cmp.reason
    : cmp.worst
      ? `${cmp.compared} values; worst ${cmp.worst.column} @t=${cmp.worst.time}: expected ${cmp.worst.expected}, got ${cmp.worst.actual}`
      : `${cmp.compared} values at ${cmp.rowsMatched} times`;
  return { model: c.name, outcome: cmp.pass ? 'pass' : 'fail', detail };
}

export function formatTable(rows: ConformanceRow[]): string {
  const w = Math.max(5, ...rows.map((r) => r.model.length));
  const lines = [
    `${'model'.padEnd(w)}  ${'result'.padEnd(15)}  detail`,
    `${'-'.repeat(w)}  ${'-'.repeat(15)}  ------`,
  ];
  for (const r of rows)
    lines.push(`${r.model.padEnd(w)}  ${r.outcome.padEnd(15)}  ${r.detail.replace(/\s+/g, ' ')}`);
  const pass = rows.filter((r) => r.outcome === 'pass').length;
  lines.push('', `${pass} of ${rows.length} models match within rtol = atol = 1e-5`);
  return lines.join('\n');
}

// An agent's experiment through the MCP tools, one at a time (issue 10, translate once):
// container_create (local) → notebook_create → pysd_model_load (inline SIR) →
// pysd_experiment_run (single) → container_destroy, the model already in the shared
// cache after the first one. Peer, interleaved: what a modeller runs by hand for
// one run of the same model, a fresh Python process that imports PySD, translates
// the model and runs it.
// - session_experiment_p50_local: the whole loop, ms (median of the rounds after a warm-up);
// - session_model_load_p50_local: its pysd_model_load alone, ms.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createHost } from '../notebook-server/src/app/host.ts';
import { type BenchSuite, median, versus } from './lib.ts';
import { callTool, type Json, mcpClient } from './mcp.ts';

const REPO = resolve(import.meta.dirname, '..');
const PYTHON = join(REPO, 'kernels/pysd/.venv/bin/python');
const MODEL = join(REPO, 'notebooks/models/sir.mdl');
const ROUNDS = Number(process.env.PERAGUS_BENCH_SESSION_ROUNDS ?? 5);
const log = (s: string) => process.stderr.write(`[bench] session: ${s}\n`);

const PLAIN = `
import sys, warnings
warnings.simplefilter("ignore")
import pysd
pysd.read_vensim(sys.argv[1]).run()
`;

export const suite: BenchSuite = async () => {
  const home = mkdtempSync(join(tmpdir(), 'peragus-bench-session-'));
  const host = await createHost({ home, poolSize: 0, resumePlans: false, runtime: 'local' });
  const client = await mcpClient(host, 'bench-session');
  const call = (name: string, args: Json) => callTool(client, name, args, { timeout: 600_000 });
  const content = readFileSync(MODEL, 'utf8');
  const ours = async (i: number) => {
    const t0 = performance.now();
    const c = await call('container_create', { runtime: 'local', experiment_id: `session-${i}` });
    const nb = await call('notebook_create', { name: 'sir', container_id: c.container_id });
    const t1 = performance.now();
    const m = await call('pysd_model_load', { session_id: nb.session_id, source: 'sir.mdl', content });
    const t2 = performance.now();
    await call('pysd_experiment_run', {
      session_id: nb.session_id,
      model_id: m.model_id,
      experiment: { type: 'single', seed: 1, return_columns: ['Infected'] },
    });
    await call('container_destroy', { container_id: c.container_id, remove_work_dir: true });
    return { all: performance.now() - t0, load: t2 - t1 };
  };
  const scratch = mkdtempSync(join(tmpdir(), 'peragus-bench-plain-'));
  const plain = (i: number) => {
    // A fresh copy each time: PySD writes its translation beside the model.
    const copy = join(scratch, `sir${i}.mdl`);
    copyFileSync(MODEL, copy);
    const t0 = performance.now();
    const r = spawnSync(PYTHON, ['-c', PLAIN, copy], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`plain PySD failed: ${r.stderr.slice(-400)}`);
    return performance.now() - t0;
  };
  const all: number[] = [];
  const loads: number[] = [];
  const peer: number[] = [];
  try {
    await ours(-1); // warm-up: the zygote's start and the model's first translation
    for (let i = 0; i < ROUNDS; i++) {
      const o = await ours(i);
      all.push(o.all);
      loads.push(o.load);
      peer.push(plain(i));
      log(
        `round ${i + 1}: ours ${o.all.toFixed(0)} ms (load ${o.load.toFixed(0)}), plain PySD ${peer[i]!.toFixed(0)} ms`,
      );
    }
  } finally {
    await client.close();
    await host.close();
    rmSync(home, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  }
  return [
    versus('session_experiment_p50_local', 'ms', median(all), 'plain_pysd_fresh_process', median(peer)),
    { name: 'session_model_load_p50_local', value: Math.round(median(loads)), unit: 'ms' },
  ];
};

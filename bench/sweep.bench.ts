// Vectorised sweeps (issue 16).
//
// sweep_lhs_sir_vectorised: runs/s of a 10,000-run LHS of samples/SIR through
//   peragus_pysd.run_experiment (vectorise "auto": one integration per chunk of
//   runs, every output written to Parquet). Peers in the same run, on the same
//   LHS parameter sets: the serial PySD loop (model.run(params) per sample, half
//   of its runs before ours and half after), today's per-run path (vectorise
//   "off", forked workers) and EMA Workbench's MultiprocessingEvaluator(2) with
//   a function model calling PySD's model.run. The peers run a subsample (they
//   would take minutes for 10,000 runs); runs/s is what is compared. ratio =
//   ours / serial loop; goal >= 20.
// sweep_memory_100k_over_10k: peak RSS of the whole process tree of a 100,000-run
//   LHS over that of a 10,000-run LHS, each in a fresh Python process (SIR with
//   time_step 0.125, three output columns: 801 rows per run).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BenchFigure, type BenchSuite, r3 } from './lib.ts';
import { REPO, runPython, sirPath } from './pysd.bench.ts';

const PEERS_PYTHON = join(REPO, 'bench/peers/.venv/bin/python');

const SPEED = String.raw`
import numpy as np
from scipy.stats import qmc
from peragus_pysd.loader import get_model
model_id = pp.load_model(ARGS["model"])["model_id"]
n = ARGS["runs"]
exp = {"type": "lhs", "samples": n, "seed": 1, "parameters": PARAMS}
# The parameter sets of our LHS (same sampler, same seed), for the peers.
from peragus_pysd.sampling import lhs
from peragus_pysd.params import NameResolver, parse_params
loaded = get_model(model_id)
design = lhs(parse_params(NameResolver(loaded.model), PARAMS), n, 1)
samples = design.runs
model = loaded.fresh()

def serial(batch):
    t0 = time.perf_counter()
    for p in batch:
        model.run(params=p)
    return time.perf_counter() - t0

k = ARGS["serial_runs"]
serial_s = serial(samples[: k // 2])
t0 = time.perf_counter()
s = pp.run_experiment(model_id, exp, name="bench-vectorised")
ours_s = time.perf_counter() - t0
m = ARGS["per_run_runs"]
t0 = time.perf_counter()
p = pp.run_experiment(model_id, {**exp, "samples": m, "vectorise": "off"}, name="bench-per-run")
per_run_s = time.perf_counter() - t0
serial_s += serial(samples[k // 2 : k])
with open(ARGS["samples_out"], "w") as f:
    json.dump({"py_file": str(loaded.py_file), "samples": samples[: ARGS["ema_runs"]]}, f)
print(json.dumps({"runs": s["run_count"], "failed": s["failed_runs"], "mode": s["mode"], "ours_s": ours_s,
                  "serial_runs": k, "serial_s": serial_s, "per_run_runs": p["run_count"], "per_run_s": per_run_s,
                  "per_run_failed": p["failed_runs"], "chunks": s["vectorise"].get("chunks")}))
`;

const EMA = String.raw`
import json, sys, time, warnings
warnings.simplefilter("ignore")
import numpy as np
import pysd
from ema_workbench import ArrayOutcome, Model, MultiprocessingEvaluator, RealParameter, Scenario

ARGS = json.loads(sys.argv[1])
with open(ARGS["samples_in"]) as f:
    DATA = json.load(f)
_model = None

def sir(**params):
    global _model
    if _model is None:
        _model = pysd.load(DATA["py_file"])
    df = _model.run(params=params)
    return {name: df[real].to_numpy() for name, real in (("infectious", "Infectious"), ("recovered", "Recovered"))}

if __name__ == "__main__":
    samples = DATA["samples"]
    names = list(samples[0])
    model = Model("sir", function=sir)
    model.uncertainties = [RealParameter(k, min(s[k] for s in samples), max(s[k] for s in samples)) for k in names]
    model.outcomes = [ArrayOutcome("infectious"), ArrayOutcome("recovered")]
    scenarios = [Scenario(f"s{i}", **s) for i, s in enumerate(samples)]
    t0 = time.perf_counter()
    with MultiprocessingEvaluator(model, n_processes=2) as evaluator:
        experiments, outcomes = evaluator.perform_experiments(scenarios=scenarios)
    elapsed = time.perf_counter() - t0
    print(json.dumps({"runs": len(experiments), "ema_s": elapsed, "shape": list(outcomes["infectious"].shape)}))
`;

const MEMORY = String.raw`
model_id = pp.load_model(ARGS["model"])["model_id"]
exp = {"type": "lhs", "samples": ARGS["runs"], "seed": 2, "parameters": PARAMS, "time_step": 0.125,
       "return_columns": ["Susceptible", "Infectious", "Recovered"]}
peak = Peak()
peak.start()
t0 = time.perf_counter()
s = pp.run_experiment(model_id, exp, name=f"bench-vmem-{ARGS['runs']}")
elapsed = time.perf_counter() - t0
peak.stop = True
peak.join()
print(json.dumps({"runs": s["run_count"], "failed": s["failed_runs"], "peak_kb": peak.peak, "mode": s["mode"],
                  "elapsed_s": elapsed, "rows": s["rows"]}))
`;

async function ema(dir: string, samplesFile: string): Promise<{ runs: number; ema_s: number }> {
  if (!existsSync(PEERS_PYTHON)) {
    throw new Error('bench/peers/.venv missing: run node scripts/setup-bench.mjs (npm run bench does)');
  }
  const script = join(dir, 'ema_peer.py');
  writeFileSync(script, EMA);
  const r = spawnSync(PEERS_PYTHON, [script, JSON.stringify({ samples_in: samplesFile })], {
    cwd: dir,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`EMA peer failed: ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
}

export const suite: BenchSuite = async () => {
  const model = sirPath();
  const dir = mkdtempSync(join(tmpdir(), 'peragus-sweep-bench-'));
  try {
    const samplesFile = join(dir, 'samples.json');
    const speed = await runPython<{
      runs: number;
      failed: number;
      mode: string;
      ours_s: number;
      serial_runs: number;
      serial_s: number;
      per_run_runs: number;
      per_run_s: number;
      per_run_failed: number;
    }>(
      SPEED,
      { model, runs: 10_000, serial_runs: 200, per_run_runs: 1000, ema_runs: 400, samples_out: samplesFile },
      dir,
    );
    if (speed.failed > 0 || speed.per_run_failed > 0) throw new Error('runs failed');
    if (speed.mode !== 'vectorised') throw new Error(`SIR ran ${speed.mode}`);
    const peer = await ema(dir, samplesFile);
    const ours = speed.runs / speed.ours_s;
    const serial = speed.serial_runs / speed.serial_s;
    const perRun = speed.per_run_runs / speed.per_run_s;
    const emaRate = peer.runs / peer.ema_s;
    rmSync(join(dir, 'results'), { recursive: true, force: true });
    const mem = async (runs: number) =>
      runPython<{ runs: number; failed: number; peak_kb: number; mode: string }>(
        MEMORY,
        { model, runs },
        dir,
      );
    const m10 = await mem(10_000);
    rmSync(join(dir, 'results'), { recursive: true, force: true });
    const m100 = await mem(100_000);
    return [
      {
        name: 'sweep_lhs_sir_vectorised',
        value: r3(ours),
        unit: 'runs/s',
        peer: 'pysd_serial_loop',
        peer_value: r3(serial),
        ratio: r3(ours / serial),
        goal: '>= 20',
      },
      {
        name: 'sweep_lhs_sir_vectorised_vs_per_run',
        value: r3(ours),
        unit: 'runs/s',
        peer: 'peragus_per_run',
        peer_value: r3(perRun),
        ratio: r3(ours / perRun),
      },
      {
        name: 'sweep_lhs_sir_vectorised_vs_ema',
        value: r3(ours),
        unit: 'runs/s',
        peer: 'ema_workbench_multiprocessing_2',
        peer_value: r3(emaRate),
        ratio: r3(ours / emaRate),
      },
      { name: 'sweep_memory_peak_vectorised_10k', value: r3(m10.peak_kb / 1024), unit: 'MiB' },
      { name: 'sweep_memory_peak_vectorised_100k', value: r3(m100.peak_kb / 1024), unit: 'MiB' },
      {
        name: 'sweep_memory_100k_over_10k',
        value: r3(m100.peak_kb / m10.peak_kb),
        unit: 'ratio',
        goal: '<= 1.2',
      },
    ] satisfies BenchFigure[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

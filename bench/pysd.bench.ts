// PySD experiment throughput and memory (issue 3, part 4).
//
// sweep_lhs_sir_speedup: a 1,000-run LHS of samples/SIR through
//   peragus_pysd.run_experiment (forked workers, streamed Parquet) against a plain
//   serial PySD loop over the same parameter sets (model loaded once,
//   model.run(params=...) per sample, results discarded), in the same run; the
//   peer's runs are split around ours so both see the same machine load.
// sweep_memory_10k_over_1k: peak RSS of the whole process tree (parent + forked
//   workers, read from /proc every 20 ms) of a 10,000-run LHS over that of a
//   1,000-run LHS, each in a fresh Python process (SIR with time_step 0.125 to
//   keep the 10k run short; the output is still 801 rows per run).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type BenchFigure, type BenchSuite, r3, versus } from './lib.ts';

const REPO = resolve(import.meta.dirname, '..');
const PYTHON = join(REPO, 'kernels/pysd/.venv/bin/python');

function sirPath(): string {
  const suite = process.env.PERAGUS_SD_TEST_MODELS ?? resolve(REPO, '..', 'shared', 'sd-test-models');
  const p = join(suite, 'samples/SIR/SIR.mdl');
  if (!existsSync(p)) throw new Error(`SIR model not found at ${p}: set PERAGUS_SD_TEST_MODELS`);
  return p;
}

const COMMON = String.raw`
import json, os, sys, threading, time, warnings
warnings.simplefilter("ignore")
import peragus_pysd as pp

ARGS = json.loads(sys.argv[1])
PARAMS = {"Contact Infectivity": [0.15, 0.45], "Duration": [3, 8], "Total Population": [800, 1200]}

def tree_rss_kb(root):
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        stack.extend(kids.get(pid, []))
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total

class Peak(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self.stop = 0, False
    def run(self):
        while not self.stop:
            self.peak = max(self.peak, tree_rss_kb(os.getpid()))
            time.sleep(0.02)
`;

const SPEED = String.raw`
# The peer runs half its samples before ours and half after, so both see the
# same (shared, fluctuating) machine load on average.
import numpy as np
from scipy.stats import qmc
from peragus_pysd.loader import get_model
model_id = pp.load_model(ARGS["model"])["model_id"]
n = ARGS["runs"]
unit = qmc.LatinHypercube(d=len(PARAMS), rng=np.random.default_rng(7)).random(n)
samples = [{k: lo + u[j] * (hi - lo) for j, (k, (lo, hi)) in enumerate(PARAMS.items())} for u in unit]
model = get_model(model_id).fresh()

def peer(batch):
    t0 = time.perf_counter()
    for p in batch:
        model.run(params=p)
    return time.perf_counter() - t0

peer_s = peer(samples[: n // 2])
t0 = time.perf_counter()
s = pp.run_experiment(model_id, {"type": "lhs", "samples": n, "seed": 1, "parameters": PARAMS}, name="bench-speed")
ours = time.perf_counter() - t0
peer_s += peer(samples[n // 2 :])
print(json.dumps({"runs": s["run_count"], "failed": s["failed_runs"], "ours_s": ours, "peer_s": peer_s,
                  "workers": s["timing"]["workers"]}))
`;

const MEMORY = String.raw`
model_id = pp.load_model(ARGS["model"])["model_id"]
exp = {"type": "lhs", "samples": ARGS["runs"], "seed": 2, "parameters": PARAMS, "time_step": 0.125,
       "return_columns": ["Susceptible", "Infectious", "Recovered"]}
peak = Peak()
base = tree_rss_kb(os.getpid())
peak.start()
t0 = time.perf_counter()
s = pp.run_experiment(model_id, exp, name=f"bench-mem-{ARGS['runs']}")
elapsed = time.perf_counter() - t0
peak.stop = True
peak.join()
print(json.dumps({"runs": s["run_count"], "failed": s["failed_runs"], "peak_kb": peak.peak, "base_kb": base,
                  "elapsed_s": elapsed, "rows": s["rows"]}))
`;

function runPython<T>(
  script: string,
  args: Record<string, unknown>,
  cwd: string,
  python = PYTHON,
): Promise<T> {
  return new Promise((ok, fail) => {
    const child = spawn(python, ['-c', COMMON + script, JSON.stringify(args)], {
      cwd,
      env: { ...process.env, PERAGUS_PYSD_CACHE: join(tmpdir(), 'peragus-pysd-bench-cache') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', fail);
    child.on('close', (code) => {
      if (code !== 0) return fail(new Error(`python exited ${code}: ${err.slice(-2000)}`));
      const last = out.trim().split('\n').pop() ?? '';
      try {
        ok(JSON.parse(last) as T);
      } catch {
        fail(new Error(`bad bench output: ${out.slice(-500)} ${err.slice(-500)}`));
      }
    });
  });
}

export { COMMON, REPO, runPython, sirPath };

export const suite: BenchSuite = async () => {
  const model = sirPath();
  const dir = mkdtempSync(join(tmpdir(), 'peragus-pysd-bench-'));
  try {
    const speed = await runPython<{
      runs: number;
      failed: number;
      ours_s: number;
      peer_s: number;
      workers: number;
    }>(SPEED, { model, runs: 1000 }, dir);
    if (speed.failed > 0) throw new Error(`${speed.failed} runs failed`);
    const ours = speed.runs / speed.ours_s;
    const peer = speed.runs / speed.peer_s;
    const mem = async (runs: number) =>
      runPython<{ runs: number; failed: number; peak_kb: number; elapsed_s: number }>(
        MEMORY,
        { model, runs },
        dir,
      );
    const m1 = await mem(1000);
    rmSync(join(dir, 'results'), { recursive: true, force: true });
    const m10 = await mem(10_000);
    rmSync(join(dir, 'results'), { recursive: true, force: true });
    return [
      versus('sweep_lhs_sir_speedup', 'runs/s', ours, 'pysd_serial_loop', peer, { goal: '>= 1.8' }),
      { name: 'sweep_memory_peak_1k', value: r3(m1.peak_kb / 1024), unit: 'MiB' },
      { name: 'sweep_memory_peak_10k', value: r3(m10.peak_kb / 1024), unit: 'MiB' },
      {
        name: 'sweep_memory_10k_over_1k',
        value: r3(m10.peak_kb / m1.peak_kb),
        unit: 'ratio',
        goal: '<= 1.2',
      },
    ] satisfies BenchFigure[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

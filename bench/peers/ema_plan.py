"""EMA Workbench peer: the same experiments as a Peragus plan, through
MultiprocessingEvaluator(K) and EMA's PySD connector (which translates the
model in each worker). Prints one JSON line: {"wall_s", "runs"}.

Input (argv[1], JSON): {"model": PATH, "processes": K,
  "points": [{PY_NAME: value, ...}, ...]                 one run per point, or
  "lhs": {"experiments": N, "samples": S, "ranges": {PY_NAME: [lo, hi]}}}
"""

import json
import sys
import time
import warnings

warnings.simplefilter("ignore")

args = json.loads(sys.argv[1])

t0 = time.perf_counter()
from ema_workbench import MultiprocessingEvaluator, RealParameter, Scenario, TimeSeriesOutcome  # noqa: E402
from ema_workbench.connectors.pysd_connector import PysdModel  # noqa: E402
from ema_workbench.em_framework.samplers import LHSSampler  # noqa: E402

model = PysdModel("m", mdl_file=args["model"])
outcome = args["outcome"]
model.outcomes = [TimeSeriesOutcome(outcome)]
if "points" in args:
    names = sorted(args["points"][0])
    lo = {n: min(p[n] for p in args["points"]) for n in names}
    hi = {n: max(p[n] for p in args["points"]) for n in names}
    model.uncertainties = [RealParameter(n, lo[n], hi[n] if hi[n] > lo[n] else lo[n] + 1) for n in names]
    scenarios = [Scenario(f"s{i}", **p) for i, p in enumerate(args["points"])]
    with MultiprocessingEvaluator(model, n_processes=args["processes"]) as evaluator:
        experiments, outcomes = evaluator.perform_experiments(scenarios=scenarios)
else:
    lhs = args["lhs"]
    model.uncertainties = [RealParameter(n, lo, hi) for n, (lo, hi) in lhs["ranges"].items()]
    with MultiprocessingEvaluator(model, n_processes=args["processes"]) as evaluator:
        experiments, outcomes = evaluator.perform_experiments(
            scenarios=lhs["experiments"] * lhs["samples"], uncertainty_sampling=LHSSampler()
        )
wall = time.perf_counter() - t0
print(json.dumps({"wall_s": wall, "runs": len(experiments)}))

from __future__ import annotations

import math
import unittest
import warnings

import numpy as np
import pyarrow.parquet as pq

import peragus_pysd as pp
from helpers import MODELS, InTempDir, sha256
from peragus_pysd.fastrun import run_arrays
from peragus_pysd.loader import get_model

LHS = {
    "type": "lhs",
    "samples": 24,
    "seed": 11,
    "parameters": {
        "Cooling Time": [4, 12],
        "ambient_temperature": {"dist": "normal", "mean": 20, "std": 3},
    },
}


def runs_path(summary: dict) -> str:
    return next(a["path"] for a in summary["artifacts"] if a["role"] == "runs")


class Experiments(InTempDir, unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.coffee = pp.load_model(str(MODELS / "coffee.mdl"))["model_id"]
        cls.tuning = pp.load_model(str(MODELS / "tuning.mdl"))["model_id"]

    def test_single_run_matches_euler(self) -> None:
        s = pp.run_experiment(self.coffee, {"type": "single", "parameters": {"Cooling Time": 10}})
        self.assertEqual(s["run_count"], 1)
        final = s["metrics"]["final(Coffee Temperature)"]["mean"]
        self.assertAlmostEqual(final, 20 + 70 * (1 - 0.25 / 10) ** 80, places=9)
        t = pq.read_table(runs_path(s))
        self.assertEqual(t.column_names[:3], ["run_id", "Cooling Time", "time"])
        self.assertEqual(t.num_rows, 21)
        self.assertNotIn("Cooling Time", s["columns"]["variables"])

    def test_fast_path_is_identical_to_model_run(self) -> None:
        for mid in (self.coffee, self.tuning):
            m1, m2 = get_model(mid).fresh(), get_model(mid).fresh()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                np.random.seed(3)
                df = m1.run(params={})
                np.random.seed(3)
                times, cols, vals = run_arrays(m2, params={})
            self.assertEqual(cols, list(df.columns))
            self.assertTrue(np.array_equal(times, df.index.to_numpy(float)))
            self.assertTrue(np.array_equal(vals, df.to_numpy(float)))

    def test_latin_hypercube_is_scipys_for_the_same_generator(self) -> None:
        from scipy.stats import qmc

        from peragus_pysd.sampling import latin_hypercube

        for seed in (0, 11, 2**40 + 7):
            for n, d in ((1, 1), (5, 2), (200, 2), (37, 5)):
                ours = latin_hypercube(n, d, np.random.default_rng(seed))
                theirs = qmc.LatinHypercube(d=d, rng=np.random.default_rng(seed)).random(n)
                self.assertEqual(ours.tobytes(), theirs.tobytes(), (seed, n, d))
                # One sample in each of the n strata of every dimension.
                self.assertEqual(sorted(np.floor(ours[:, 0] * n).astype(int)), list(range(n)))

    def test_lhs_is_byte_identical_across_reruns_and_worker_counts(self) -> None:
        a = pp.run_experiment(self.coffee, {**LHS, "workers": 1, "vectorise": "off"})
        b = pp.run_experiment(self.coffee, {**LHS, "workers": 2, "vectorise": "off"})
        c = pp.run_experiment(self.coffee, LHS, name="lhs-vectorised")
        self.assertEqual(a["run_count"], 24)
        self.assertEqual(a["timing"]["workers"], 1)
        self.assertEqual(b["timing"]["workers"], 2)
        self.assertEqual([x["sha256"] for x in a["artifacts"]], [x["sha256"] for x in b["artifacts"]])
        self.assertEqual(c["mode"], "vectorised")
        data = [x["sha256"] for x in a["artifacts"] if x["role"] != "summary"]
        self.assertEqual(data, [x["sha256"] for x in c["artifacts"] if x["role"] != "summary"])
        t = pq.read_table(runs_path(a))
        self.assertEqual(t.num_rows, 24 * 21)
        ids = t.column("run_id").to_numpy()
        self.assertTrue(np.all(np.diff(ids) >= 0))
        ct = t.column("Cooling Time").to_numpy()
        self.assertTrue(4 <= ct.min() and ct.max() <= 12)

    def test_csv_and_netcdf_are_deterministic(self) -> None:
        for fmt in ("csv", "netcdf"):
            a = pp.run_experiment(self.coffee, {**LHS, "samples": 5}, output_format=fmt, name=f"fmt-{fmt}-a")
            b = pp.run_experiment(self.coffee, {**LHS, "samples": 5}, output_format=fmt, name=f"fmt-{fmt}-b")
            self.assertEqual(sha256(runs_path(a)), sha256(runs_path(b)), fmt)

    def test_per_run_seeds_make_random_models_reproducible(self) -> None:
        exp = {"type": "monte_carlo", "samples": 4, "seed": 5, "parameters": {"Setting": [0, 10]},
               "metrics": [{"variable": "Noise Sum", "stat": "final"}]}
        a = pp.run_experiment(self.tuning, exp)
        b = pp.run_experiment(self.tuning, {**exp, "workers": 2})
        va = [r["metrics"]["final(Noise Sum)"] for r in a["per_run"]]
        vb = [r["metrics"]["final(Noise Sum)"] for r in b["per_run"]]
        self.assertEqual(va, vb)
        self.assertEqual(len(set(va)), 4)

    def test_sweep_grid_scenarios(self) -> None:
        s = pp.run_experiment(self.coffee, {"type": "sweep", "samples": 3,
                                            "parameters": {"Cooling Time": [4, 12], "Ambient Temperature": {"values": [10, 30]}}})
        self.assertEqual(s["run_count"], 5)
        g = pp.run_experiment(self.coffee, {"type": "grid", "samples": 3,
                                           "parameters": {"Cooling Time": [4, 12], "Ambient Temperature": {"values": [10, 30]}}})
        self.assertEqual(g["run_count"], 6)
        sc = pp.run_experiment(self.coffee, {"type": "scenarios", "parameters": {"Cooling Time": 5},
                                            "scenarios": [{"name": "cold room", "parameters": {"Ambient Temperature": 0}},
                                                          {"name": "base", "parameters": {}}]})
        names = [x["name"] for x in sc["scenarios"]]
        self.assertEqual(names, ["cold room", "base"])
        cold, base = (x["metrics"]["final(Coffee Temperature)"] for x in sc["scenarios"])
        # "base" must not inherit the cold room from the previous run.
        self.assertAlmostEqual(base - cold, 20 * (1 - (1 - 0.25 / 5) ** 80), places=9)
        t = pq.read_table(runs_path(sc))
        self.assertEqual(t.column_names[:2], ["run_id", "scenario"])

    def test_sensitivity_indices_shapes(self) -> None:
        params = {"Cooling Time": [4, 12], "Ambient Temperature": [10, 30]}
        so = pp.run_experiment(self.coffee, {"type": "sobol", "samples": 32, "parameters": params})
        self.assertEqual(so["run_count"], 32 * (2 + 2))
        idx = so["sensitivity"]["by_metric"]["final(Coffee Temperature)"]
        self.assertEqual(set(idx), {"Cooling Time", "Ambient Temperature"})
        self.assertEqual(set(idx["Cooling Time"]), {"S1", "S1_conf", "ST", "ST_conf"})
        mo = pp.run_experiment(self.coffee, {"type": "morris", "samples": 6, "parameters": params})
        self.assertEqual(mo["run_count"], 6 * 3)
        m = mo["sensitivity"]["by_metric"]["final(Coffee Temperature)"]["Ambient Temperature"]
        self.assertEqual(set(m), {"mu_star", "mu_star_conf", "sigma", "mu"})
        fa = pp.run_experiment(self.coffee, {"type": "fast", "samples": 70, "parameters": params})
        self.assertEqual(fa["run_count"], 140)
        f = fa["sensitivity"]["by_metric"]["final(Coffee Temperature)"]
        self.assertGreater(f["Ambient Temperature"]["S1"], f["Cooling Time"]["S1"])

    def test_optimization_finds_known_optimum(self) -> None:
        s = pp.run_experiment(self.tuning, {"type": "optimization", "parameters": {"Setting": [0, 10]},
                                            "objective": {"variable": "Total Cost", "stat": "final", "goal": "min"},
                                            "samples": 150, "seed": 1})
        best = s["optimization"]["best_parameters"]["Setting"]
        self.assertAlmostEqual(best, 3.0, places=4)
        self.assertAlmostEqual(s["optimization"]["best_value"], 10.0, places=6)
        self.assertEqual(s["optimization"]["evaluations"], s["run_count"])
        nm = pp.run_experiment(self.tuning, {"type": "optimization", "parameters": {"Setting": [0, 10]},
                                             "objective": {"variable": "Total Cost", "goal": "max"},
                                             "options": {"method": "nelder-mead"}, "samples": 80})
        self.assertAlmostEqual(nm["optimization"]["best_parameters"]["Setting"], 10.0, places=3)

    def test_time_settings_and_metrics(self) -> None:
        s = pp.run_experiment(self.coffee, {"type": "single", "final_time": 10, "saveper": 0.5,
                                            "return_columns": ["Gap"],
                                            "metrics": [{"variable": "Gap", "stat": "max"},
                                                        {"variable": "cooling", "stat": "time_of_max"}]})
        self.assertEqual(s["rows"], 21)
        self.assertEqual(s["columns"]["variables"], ["Gap", "Cooling"])
        self.assertEqual(s["metrics"]["max(Gap)"]["mean"], 70.0)
        self.assertEqual(s["metrics"]["time_of_max(Cooling)"]["mean"], 0.0)
        # a later experiment without time settings is back on the model's own
        d = pp.run_experiment(self.coffee, {"type": "single"})
        self.assertEqual(d["rows"], 21)
        self.assertEqual(d["time"]["final_time"], 20.0)
        # the time unit comes from the model's documentation, read once per loaded model
        self.assertEqual((s["time"]["units"], d["time"]["units"]), ("Minute", "Minute"))
        self.assertTrue(math.isfinite(d["metrics"]["final(Coffee Temperature)"]["mean"]))

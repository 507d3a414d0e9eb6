"""Vectorised sweeps: same values as per-run simulations, per-run fallback with a reason, and errors for "on"."""

from __future__ import annotations

import unittest
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

import peragus_pysd as pp
from helpers import MODELS, InTempDir

# Functions the runner replaces or checks: IF THEN ELSE on a varied condition, lookups, STEP, SMOOTH, DELAY3,
# ZIDZ, TREND, FORECAST, SAMPLE IF TRUE.
MIXED = """{UTF-8}
Threshold= 50 ~ Widgets ~ |
Gain= 0.5 ~ 1/Week ~ |
Adjust Time= 4 ~ Week ~ |
Effect Table( (0,0.2),(50,0.5),(100,1),(200,1.5) ) ~ Dmnl ~ |
Inflow= IF THEN ELSE(Stock > Threshold, Gain * Effect Table(Stock), Gain * 2) + STEP(3, 10) ~ Widgets/Week ~ |
Outflow= DELAY3(Inflow, Adjust Time) ~ Widgets/Week ~ |
Smoothed= SMOOTH(Stock, Adjust Time) ~ Widgets ~ |
Safe Ratio= ZIDZ(Stock, Threshold - 50) ~ Dmnl ~ |
Stock Trend= TREND(Stock, Adjust Time, 0) ~ 1/Week ~ |
Stock Forecast= FORECAST(Stock, Adjust Time, 3) ~ Widgets ~ |
Sampled= SAMPLE IF TRUE(Stock > Threshold, Stock, 0) ~ Widgets ~ |
Stock= INTEG(Inflow - Outflow + Stock * 0.05, 20) ~ Widgets ~ |
FINAL TIME = 30 ~ Week ~ |
INITIAL TIME = 0 ~ Week ~ |
SAVEPER = 1 ~ Week ~ |
TIME STEP = 0.25 ~ Week ~ |
"""

# DELAY FIXED with a varied delay time cannot run vectorised (its pipe length differs per run).
FIXED = """{UTF-8}
Delay Time= 3 ~ Week ~ |
Input= 1 + STEP(4, 2) ~ Widgets/Week ~ |
Delayed= DELAY FIXED(Input, Delay Time, 1) ~ Widgets/Week ~ |
Total= INTEG(Delayed, 0) ~ Widgets ~ |
FINAL TIME = 10 ~ Week ~ |
INITIAL TIME = 0 ~ Week ~ |
SAVEPER = 1 ~ Week ~ |
TIME STEP = 1 ~ Week ~ |
"""

# A run with Divisor 0 fails per run (ZeroDivisionError); in a vectorised chunk it raises, and
# that chunk runs per run.
DIVIDE = """{UTF-8}
Divisor= 2 ~ Dmnl ~ |
Share= 10 / Divisor ~ Widgets/Week ~ |
Total= INTEG(Share, 0) ~ Widgets ~ |
FINAL TIME = 5 ~ Week ~ |
INITIAL TIME = 0 ~ Week ~ |
SAVEPER = 1 ~ Week ~ |
TIME STEP = 1 ~ Week ~ |
"""

# FINAL TIME follows a constant: varying it gives each run its own time grid.
HORIZON = """{UTF-8}
Horizon= 6 ~ Week ~ |
Rate= 2 ~ Widgets/Week ~ |
Total= INTEG(Rate, 0) ~ Widgets ~ |
FINAL TIME = Horizon ~ Week ~ |
INITIAL TIME = 0 ~ Week ~ |
SAVEPER = 1 ~ Week ~ |
TIME STEP = 1 ~ Week ~ |
"""

MACRO = """{UTF-8}
:MACRO: SCALED(input, factor)
SCALED = input * factor ~ input ~ |
:END OF MACRO:
Factor= 2 ~ Dmnl ~ |
Level= INTEG(SCALED(1, Factor), 0) ~ Widgets ~ |
FINAL TIME = 5 ~ Week ~ |
INITIAL TIME = 0 ~ Week ~ |
SAVEPER = 1 ~ Week ~ |
TIME STEP = 1 ~ Week ~ |
"""


def table(summary: dict, role: str = "runs") -> np.ndarray:
    path = next(a["path"] for a in summary["artifacts"] if a["role"] == role)
    return pq.read_table(path).to_pandas().to_numpy(float)


def both(test: unittest.TestCase, model_id: str, exp: dict, name: str) -> tuple[dict, dict]:
    vec = pp.run_experiment(model_id, {**exp, "vectorise": "on"}, name=f"{name}-on")
    per = pp.run_experiment(model_id, {**exp, "vectorise": "off"}, name=f"{name}-off")
    test.assertEqual(vec["mode"], "vectorised")
    test.assertEqual(per["mode"], "per_run")
    for role in ("runs", "metrics"):
        a, b = table(vec, role), table(per, role)
        test.assertEqual(a.shape, b.shape)
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=0, equal_nan=True)
    return vec, per


class Vectorised(InTempDir, unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        Path("mixed.mdl").write_text(MIXED)
        Path("fixed.mdl").write_text(FIXED)
        Path("macro.mdl").write_text(MACRO)
        Path("divide.mdl").write_text(DIVIDE)
        Path("horizon.mdl").write_text(HORIZON)
        cls.sir = pp.load_model(str(MODELS / "sir.mdl"))["model_id"]
        cls.tuning = pp.load_model(str(MODELS / "tuning.mdl"))["model_id"]
        cls.mixed = pp.load_model("mixed.mdl")["model_id"]
        cls.fixed = pp.load_model("fixed.mdl")["model_id"]
        cls.macro = pp.load_model("macro.mdl")["model_id"]
        cls.divide = pp.load_model("divide.mdl")["model_id"]
        cls.horizon = pp.load_model("horizon.mdl")["model_id"]

    def test_sir_lhs_writes_the_same_files_in_both_modes(self) -> None:
        params = {name: [lo, hi] for name, lo, hi in self._sir_constants()}
        exp = {"type": "lhs", "samples": 150, "seed": 3, "parameters": params}
        vec, per = both(self, self.sir, exp, "sir")
        self.assertEqual(vec["vectorise"]["chunks"], 1)
        runs = [next(a["sha256"] for a in s["artifacts"] if a["role"] == "runs") for s in (vec, per)]
        self.assertEqual(runs[0], runs[1])  # same values, same row groups: the same bytes
        self.assertEqual(vec["metrics"], per["metrics"])
        auto = pp.run_experiment(self.sir, exp, name="sir-auto")
        self.assertEqual(auto["mode"], "vectorised")

    def _sir_constants(self) -> list[tuple[str, float, float]]:
        info = pp.load_model(str(MODELS / "sir.mdl"))
        out = []
        for c in info["constants"]:
            v = c.get("value")
            if isinstance(v, (int, float)) and v > 0 and c["name"] not in ("FINAL TIME", "INITIAL TIME", "TIME STEP"):
                out.append((c["name"], 0.8 * v, 1.2 * v))
        self.assertGreaterEqual(len(out), 2)
        return out

    def test_random_functions_draw_per_run_with_the_per_run_seeds(self) -> None:
        exp = {"type": "monte_carlo", "samples": 90, "seed": 5, "parameters": {"Setting": [0, 10]},
               "metrics": [{"variable": "Noise Sum", "stat": "final"}]}  # fmt: skip
        vec, _ = both(self, self.tuning, exp, "noise")
        noise = table(vec, "metrics")[:, -1]
        self.assertEqual(len(np.unique(noise)), 90)

    def test_if_then_else_lookups_delays_and_smooth(self) -> None:
        exp = {"type": "lhs", "samples": 100, "seed": 8,
               "parameters": {"Threshold": [20, 80], "Gain": [0.1, 1.0], "Adjust Time": [1, 6]}}  # fmt: skip
        vec, _ = both(self, self.mixed, exp, "mixed")
        self.assertEqual(vec["failed_runs"], 0)

    def test_later_chunks_are_chunked_and_small_designs_are_padded(self) -> None:
        from peragus_pysd.vectorised import driver  # noqa: PLC0415

        old = driver.FIRST_CHUNK
        driver.FIRST_CHUNK = 70
        try:
            exp = {"type": "grid", "samples": 12, "parameters": {"Threshold": [20, 80], "Gain": [0.1, 1.0]}}
            vec, _ = both(self, self.mixed, exp, "chunks")
        finally:
            driver.FIRST_CHUNK = old
        self.assertEqual(vec["run_count"], 144)
        self.assertGreaterEqual(vec["vectorise"]["chunks"], 2)

    def test_a_chunk_with_a_failing_run_runs_per_run(self) -> None:
        from peragus_pysd.vectorised import driver  # noqa: PLC0415

        old = driver.FIRST_CHUNK
        driver.FIRST_CHUNK = 70
        try:
            exp = {"type": "grid", "parameters": {"Divisor": {"values": [*range(1, 141), 0]}}}
            vec, per = both(self, self.divide, exp, "divide")
        finally:
            driver.FIRST_CHUNK = old
        self.assertEqual(vec["vectorise"]["per_run_chunks"], 1)
        self.assertIn("FloatingPointError", vec["vectorise"]["per_run_chunk_reasons"][0])
        self.assertEqual(vec["failed_runs"], 1)
        self.assertEqual(vec["errors"], per["errors"])
        self.assertIn("ZeroDivisionError", vec["errors"][0]["error"])

    def test_auto_falls_back_with_the_reason_and_on_names_the_construct(self) -> None:
        exp = {"type": "lhs", "samples": 20, "seed": 1, "parameters": {"Delay Time": [1, 5]}}
        auto = pp.run_experiment(self.fixed, exp, name="fixed-auto")
        self.assertEqual(auto["mode"], "per_run")
        self.assertIn("'Delayed'", auto["vectorise"]["reason"])
        self.assertIn("DelayFixed", auto["vectorise"]["reason"])
        self.assertEqual(auto["failed_runs"], 0)
        with self.assertRaises(pp.NotVectorisableError) as err:
            pp.run_experiment(self.fixed, {**exp, "vectorise": "on"}, name="fixed-on")
        self.assertIn("'Delayed'", str(err.exception))
        self.assertIn("DelayFixed", str(err.exception))
        # The same model runs vectorised when only the input varies.
        ok = pp.run_experiment(self.fixed, {**exp, "parameters": {"Delay Time": 3}, "type": "single"}, name="fixed-1")
        self.assertEqual(ok["mode"], "per_run")
        self.assertEqual(ok["vectorise"]["reason"], "a single run")

    def test_time_settings_that_follow_a_varied_constant_run_per_run(self) -> None:
        exp = {"type": "grid", "parameters": {"Horizon": {"values": [4, 8]}, "Rate": [1, 3]}, "samples": 3}
        auto = pp.run_experiment(self.horizon, exp, name="horizon-auto")
        self.assertEqual(auto["mode"], "per_run")
        self.assertIn("final_time depends on parameter 'Horizon'", auto["vectorise"]["reason"])
        self.assertEqual(auto["failed_runs"], 0)
        self.assertEqual(auto["rows"], 3 * 5 + 3 * 9)
        with self.assertRaisesRegex(pp.NotVectorisableError, "'Horizon'"):
            pp.run_experiment(self.horizon, {**exp, "vectorise": "on"}, name="horizon-on")
        fixed = pp.run_experiment(self.horizon, {**exp, "parameters": {"Rate": [1, 3]}}, name="horizon-rate")
        self.assertEqual(fixed["mode"], "vectorised")

    def test_macros_are_detected_before_running(self) -> None:
        exp = {"type": "lhs", "samples": 10, "seed": 1, "parameters": {"Factor": [1, 3]}}
        auto = pp.run_experiment(self.macro, exp, name="macro-auto")
        self.assertEqual(auto["mode"], "per_run")
        self.assertIn("Macro", auto["vectorise"]["reason"])
        self.assertIn("'Level'", auto["vectorise"]["reason"])
        with self.assertRaisesRegex(pp.NotVectorisableError, "'Level' uses Macro"):
            pp.run_experiment(self.macro, {**exp, "vectorise": "on"}, name="macro-on")

    def test_bad_vectorise_value_is_refused(self) -> None:
        with self.assertRaisesRegex(pp.InvalidExperimentError, "vectorise must be one of auto, on, off"):
            pp.run_experiment(self.sir, {"type": "single", "vectorise": "yes"})

    def test_monte_carlo_100k_matches_a_per_run_subsample(self) -> None:
        params = {"Infectivity": {"dist": "uniform", "min": 0.15, "max": 0.35}, "Contact Rate": [4, 8]}
        base = {"type": "monte_carlo", "seed": 21, "parameters": params, "time_step": 0.5, "saveper": 5,
                "return_columns": ["Infected"],
                "metrics": [{"variable": "Infected", "stat": "max"}, {"variable": "Infected", "stat": "time_of_max"}]}  # fmt: skip
        big = pp.run_experiment(self.sir, {**base, "samples": 100_000}, name="mc-100k")
        small = pp.run_experiment(self.sir, {**base, "samples": 1000, "vectorise": "off"}, name="mc-1k")
        self.assertEqual(big["mode"], "vectorised")
        self.assertEqual(big["run_count"], 100_000)
        self.assertEqual(big["failed_runs"], 0)
        self.assertGreater(big["vectorise"]["chunks"], 1)
        # The per-run subsample is the first 1,000 runs of the big one: same parameters, same seeds, same values.
        mb, ms = table(big, "metrics"), table(small, "metrics")
        np.testing.assert_allclose(mb[:1000], ms, rtol=1e-9, atol=0)
        # Summary statistics agree within sampling error.
        for name, agg in big["metrics"].items():
            sub = small["metrics"][name]
            se = sub["std"] / np.sqrt(sub["count"])
            self.assertLess(abs(agg["mean"] - sub["mean"]), 4 * se + 1e-12, name)
            self.assertAlmostEqual(agg["std"] / sub["std"], 1.0, delta=0.15)
        self.assertEqual(big["rows"], 100_000 * 25)


if __name__ == "__main__":
    unittest.main()

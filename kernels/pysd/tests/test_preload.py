"""peragus_pysd.preload: the modules an experiment type needs, from a fixed table only."""

from __future__ import annotations

import unittest

from peragus_pysd.preload import BY_TYPE, modules_for


class Preload(unittest.TestCase):
    def test_sensitivity_and_optimization_types_name_their_packages(self) -> None:
        self.assertEqual(modules_for({"type": "sobol"}), ["SALib.sample.sobol", "SALib.analyze.sobol"])
        self.assertEqual(modules_for({"type": "optimization"}), ["scipy.optimize"])

    def test_types_a_kernel_already_runs_need_nothing(self) -> None:
        for kind in ("single", "grid", "monte_carlo", "lhs", "scenarios"):
            self.assertEqual(modules_for({"type": kind, "parameters": {"a": [0, 1], "b": [1, 2, 3]}}), [])

    def test_a_distribution_adds_scipy_stats_once(self) -> None:
        spec = {"type": "sobol", "parameters": {"a": {"dist": "normal", "mean": 0, "std": 1}, "b": {"dist": "uniform"}}}
        self.assertEqual(modules_for(spec), [*BY_TYPE["sobol"], "scipy.stats"])

    def test_anything_else_names_nothing(self) -> None:
        for bad in (None, "sobol", ["sobol"], {"type": ["sobol"]}, {"type": "os"}, {"modules": ["os"]}):
            self.assertEqual(modules_for(bad), [], bad)


if __name__ == "__main__":
    unittest.main()

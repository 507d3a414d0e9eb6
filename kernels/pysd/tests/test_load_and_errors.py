from __future__ import annotations

import unittest

import peragus_pysd as pp
from helpers import MODELS, InTempDir


class LoadModel(InTempDir, unittest.TestCase):
    def test_summary_of_a_vensim_model(self) -> None:
        r = pp.load_model(str(MODELS / "coffee.mdl"))
        self.assertRegex(r["model_id"], r"^coffee-[0-9a-f]{8}$")
        self.assertEqual([s["name"] for s in r["stocks"]], ["Coffee Temperature"])
        self.assertEqual([f["name"] for f in r["flows"]], ["Cooling"])
        self.assertEqual([a["name"] for a in r["auxiliaries"]], ["Gap"])
        consts = {c["name"]: c for c in r["constants"]}
        self.assertEqual(consts["Cooling Time"]["value"], 8.0)
        self.assertEqual(consts["Cooling Time"]["limits"], [1.0, 30.0])
        self.assertEqual(consts["Cooling Time"]["units"], "Minute")
        self.assertIn("shrink", consts["Cooling Time"]["doc"])
        self.assertEqual(r["time"]["final_time"], 20.0)
        self.assertEqual(r["time"]["time_step"], 0.25)
        self.assertEqual(r["time"]["units"], "Minute")
        self.assertEqual(len(r["sha256"]), 64)

    def test_xmile_model_loads_runs_and_analyzes(self) -> None:
        r = pp.load_model(str(MODELS / "savings.xmile"))
        self.assertEqual(r["format"], "xmile")
        self.assertEqual(r["time"]["units"], "Year")
        self.assertEqual(sorted(f["name"] for f in r["flows"]), ["Interest", "Withdrawals"])
        s = pp.run_experiment(r["model_id"], {"type": "single", "parameters": {"Interest Rate": 0}})
        self.assertAlmostEqual(s["metrics"]["final(Balance)"]["mean"], 1000 - 20 * 10, places=9)
        a = pp.analyze_model(r["model_id"])
        self.assertEqual(a["structure"]["stocks"][0]["inflows"], ["Interest"])
        self.assertEqual(a["structure"]["stocks"][0]["outflows"], ["Withdrawals"])

    def test_same_file_same_id_and_name_overrides(self) -> None:
        a = pp.load_model(str(MODELS / "coffee.mdl"))
        b = pp.load_model(str(MODELS / "coffee.mdl"))
        self.assertEqual(a["model_id"], b["model_id"])
        c = pp.load_model(str(MODELS / "coffee.mdl"), name="My Coffee")
        self.assertEqual(c["model_id"], "my-coffee")

    def test_inline_content_and_confinement(self) -> None:
        text = (MODELS / "coffee.mdl").read_text()
        r = pp.load_model("models/inline.mdl", content=text, confine_to=".")
        self.assertTrue(r["model_id"].startswith("inline-"))
        with self.assertRaises(pp.PathOutsideWorkDirError) as cm:
            pp.load_model("../outside.mdl", content=text, confine_to=".")
        self.assertIn("outside the work dir", str(cm.exception))

    def test_untranslatable_model_names_file_and_cause(self) -> None:
        with self.assertRaises(pp.ModelTranslationError) as cm:
            pp.load_model("broken.mdl", content="{UTF-8}\nfoo = bar +* 3 (\n~~|\n")
        msg = str(cm.exception)
        self.assertIn("broken.mdl", msg)
        self.assertIn("translate", msg)

    def test_missing_file_and_unknown_format(self) -> None:
        with self.assertRaises(pp.PeragusError):
            pp.load_model("nope.mdl")
        with self.assertRaises(pp.PeragusError) as cm:
            pp.load_model("model.txt", content="x")
        self.assertIn("format", str(cm.exception))


class BadExperiments(InTempDir, unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.mid = pp.load_model(str(MODELS / "coffee.mdl"))["model_id"]

    def test_unknown_parameter_lists_close_matches(self) -> None:
        with self.assertRaises(pp.UnknownParameterError) as cm:
            pp.run_experiment(self.mid, {"type": "single", "parameters": {"Cooling Tme": 3}})
        self.assertIn("'Cooling Tme'", str(cm.exception))
        self.assertIn("Cooling Time", str(cm.exception))

    def test_range_min_greater_than_max(self) -> None:
        with self.assertRaises(pp.InvalidParameterError) as cm:
            pp.run_experiment(self.mid, {"type": "lhs", "parameters": {"Cooling Time": [9, 2]}})
        self.assertIn("min 9.0 > max 2.0", str(cm.exception))

    def test_unsupported_type_lists_supported(self) -> None:
        with self.assertRaises(pp.UnsupportedExperimentError) as cm:
            pp.run_experiment(self.mid, {"type": "annealing"})
        self.assertIn("'annealing'", str(cm.exception))
        self.assertIn("monte_carlo", str(cm.exception))

    def test_other_bad_inputs(self) -> None:
        cases = [
            {"type": "single", "parameters": {"Cooling Time": [1, 2]}},
            {"type": "lhs", "samples": 0, "parameters": {"Cooling Time": [1, 2]}},
            {"type": "lhs", "sample": 10},
            {"type": "monte_carlo", "parameters": {"Cooling Time": {"dist": "gamma"}}},
            {"type": "monte_carlo", "parameters": {"Cooling Time": {"dist": "normal", "mean": 1}}},
            {"type": "optimization", "parameters": {"Cooling Time": [1, 2]}},
            {"type": "single", "parameters": {"Coffee Temperature": 50}},
            {"type": "single", "metrics": [{"variable": "Gap", "stat": "median"}]},
            {"type": "single", "return_columns": ["No Such"]},
        ]
        for exp in cases:
            with self.subTest(exp=exp), self.assertRaises(pp.PeragusError):
                pp.run_experiment(self.mid, exp)
        with self.assertRaises(pp.PeragusError):
            pp.run_experiment(self.mid, {"type": "single"}, output_format="xlsx")
        with self.assertRaises(pp.UnknownModelError):
            pp.run_experiment("nope", {"type": "single"})

from __future__ import annotations

import base64
import json
import unittest

import peragus_pysd as pp
from helpers import MODELS, InTempDir
from peragus_pysd.display import RESULT_MIME, Result


class AnalyzeVisualize(InTempDir, unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.coffee = pp.load_model(str(MODELS / "coffee.mdl"))["model_id"]
        cls.tuning = pp.load_model(str(MODELS / "tuning.mdl"))["model_id"]

    def test_analyze_structure_graph_parameters_units(self) -> None:
        a = pp.analyze_model(self.coffee)
        stock = a["structure"]["stocks"][0]
        self.assertEqual(stock["name"], "Coffee Temperature")
        self.assertEqual(stock["outflows"], ["Cooling"])
        self.assertEqual(stock["inflows"], [])
        edges = {(e["from"], e["to"], e["kind"]) for e in a["graph"]["edges"]}
        self.assertIn(("Cooling Time", "Cooling", "uses"), edges)
        self.assertIn(("Cooling", "Coffee Temperature", "step"), edges)
        params = {p["name"]: p for p in a["parameters"]}
        self.assertEqual(params["Cooling Time"]["suggested_range"], [1.0, 30.0])
        self.assertEqual(a["units_check"]["issues"], [])
        self.assertIn("does not check dimensions", a["units_check"]["limits"])
        docs = {d["name"]: d for d in a["documentation"]}
        self.assertEqual(docs["Gap"]["units"], "Celsius")

    def test_units_check_reports_a_stock_flow_mismatch(self) -> None:
        issues = pp.analyze_model(self.tuning)["units_check"]["issues"]
        self.assertIn(("Noise", "stock_flow_mismatch"), {(i["variable"], i["kind"]) for i in issues})

    def test_every_plot_kind_writes_png_and_preview(self) -> None:
        s = pp.run_experiment(self.coffee, {"type": "lhs", "samples": 12,
                                            "parameters": {"Cooling Time": [4, 12], "Ambient Temperature": [10, 30]}})
        for kind in ("timeseries", "fan", "scatter", "tornado"):
            with self.subTest(kind=kind):
                v = pp.visualize(s["work_dir"], kind)
                art = v["artifacts"][0]
                self.assertEqual(art["media_type"], "image/png")
                self.assertTrue(art["path"].endswith(".png"))
                png = base64.b64decode(v["preview"]["base64"])
                self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
                self.assertLess(len(png), 80_000)
        m = pp.visualize(self.coffee, "timeseries", variables=["Gap"])
        self.assertEqual(m["variables"], ["Gap"])
        with self.assertRaises(pp.PeragusError):
            pp.visualize(s["work_dir"], "pie")
        with self.assertRaises(pp.PeragusError):
            pp.visualize("no/such/dir", "fan")


class Display(unittest.TestCase):
    def test_result_is_a_json_dict_with_a_mime_bundle(self) -> None:
        r = Result("run_experiment", {"x": float("nan"), "y": [1, 2.5]}, "short")
        self.assertEqual(dict(r), {"x": None, "y": [1, 2.5]})
        bundle = r.mimebundle()
        self.assertEqual(bundle["text/plain"], "short")
        payload = bundle[RESULT_MIME]
        self.assertEqual(payload["function"], "run_experiment")
        self.assertEqual(payload["peragus"], 1)
        json.dumps(payload, allow_nan=False)

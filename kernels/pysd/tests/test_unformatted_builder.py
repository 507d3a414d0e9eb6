"""Translations without black (peragus_pysd.builder): a model translated by Peragus runs to
exactly the results of PySD's own, black-formatted translation; black is not imported for it;
and black stays the real package for everyone else in the process.

Each translation runs in a fresh Python, so neither side inherits the other's modules."""

from __future__ import annotations

import json
import shutil
import tempfile
import unittest
from pathlib import Path

from helpers import MODELS, fresh_python

# Ours: through the loader, as a kernel's pysd_model_load and a plan's check translate.
OURS = """
import json, os, sys
os.environ["PERAGUS_PYSD_CACHE"] = os.path.abspath("cache")
from peragus_pysd import loader
m = loader.load("{name}", confine_to=os.getcwd()).model
import numpy as np
np.random.seed(7)  # tuning.mdl draws RANDOM UNIFORM from NumPy's generator
out = m.run()
print(json.dumps({{
    "csv": out.to_csv(float_format="%.17g"),
    "py": open(m.py_model_file, encoding="utf-8").read(),
    "black_imported": "black" in sys.modules,
}}))
"""

# Plain PySD: read_vensim / read_xmile formats the module with black, as PySD always does.
PLAIN = """
import json, warnings
warnings.simplefilter("ignore")
import pysd
m = (pysd.read_xmile if "{name}".endswith(".xmile") else pysd.read_vensim)("{name}")
import numpy as np
np.random.seed(7)
out = m.run()
print(json.dumps({{"csv": out.to_csv(float_format="%.17g"), "py": open(m.py_model_file, encoding="utf-8").read()}}))
"""


class UnformattedBuilder(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="peragus-unformatted-"))

    def tearDown(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def _run(self, code: str, name: str, side: str) -> dict:
        folder = self.dir / side / Path(name).stem
        folder.mkdir(parents=True)
        shutil.copy(MODELS / name, folder / name)
        return fresh_python(code.format(name=name), str(folder), deferred=side == "ours")

    def test_every_model_of_ours_runs_to_the_same_results_as_pysds_formatted_translation(self) -> None:
        names = sorted(p.name for p in MODELS.iterdir() if p.suffix in (".mdl", ".xmile"))
        self.assertGreaterEqual(len(names), 4, names)
        for name in names:
            with self.subTest(model=name):
                ours = self._run(OURS, name, "ours")
                plain = self._run(PLAIN, name, "plain")
                self.assertGreater(len(ours["csv"]), 100)
                self.assertEqual(ours["csv"], plain["csv"])
                # The builder's own text, not black's layout: the pass-through was in effect.
                self.assertNotEqual(ours["py"], plain["py"])
                self.assertFalse(ours["black_imported"], "a Peragus translation imported black")

    def test_black_stays_the_real_package_after_a_peragus_translation(self) -> None:
        folder = self.dir / "after"
        folder.mkdir()
        shutil.copy(MODELS / "teacup.mdl", folder / "teacup.mdl")
        out = fresh_python(
            """
            import json, os
            os.environ["PERAGUS_PYSD_CACHE"] = os.path.abspath("cache")
            from peragus_pysd import loader
            loader.load("teacup.mdl", confine_to=os.getcwd())
            import black
            print(json.dumps({
                "file": black.__file__,
                "formatted": black.format_file_contents("x=( 1 )\\n", fast=True, mode=black.FileMode()),
            }))
            """,
            str(folder),
        )
        self.assertIn("/site-packages/black/", out["file"])
        # The pass-through would have returned the text unchanged.
        self.assertEqual(out["formatted"], "x = 1\n")


if __name__ == "__main__":
    unittest.main()

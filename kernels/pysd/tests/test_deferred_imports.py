"""PySD imported with openpyxl and scipy.optimize deferred (peragus_pysd.deferred): neither is
imported until PySD first uses it, PySD's own error handling still sees openpyxl's exception,
and a translation is byte-identical to one made by a plain ``import pysd``.

Each case runs in a fresh Python: the test runner itself has imported both long ago."""

from __future__ import annotations

import shutil
import tempfile
import unittest
from pathlib import Path

from helpers import MODELS, fresh_python


class DeferredImports(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="peragus-deferred-")

    def tearDown(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_importing_peragus_pysd_imports_neither_openpyxl_nor_scipy_optimize(self) -> None:
        out = fresh_python(
            """
            import json, sys
            import peragus_pysd, pysd.py_backend.allocation as alloc, pysd.py_backend.external as ext
            print(json.dumps({
                "imported": sorted(m for m in sys.modules if m.split(".")[0] == "openpyxl" or m.startswith("scipy.optimize")),
                "pysd": "pysd" in sys.modules,
                "stand_ins": [ext.load_workbook.__module__, alloc.least_squares.__module__],
            }))
            """,
            self.dir,
        )
        self.assertEqual(out["imported"], [])
        self.assertTrue(out["pysd"])
        self.assertEqual(out["stand_ins"], ["peragus_pysd.deferred", "peragus_pysd.deferred"])

    def test_an_lhs_over_ranges_imports_no_scipy_stats(self) -> None:
        # scipy.stats' import is ≈ 1 CPU-s: it was every LHS experiment's largest cost.
        out = fresh_python(
            f"""
            import json, sys
            import peragus_pysd as pp
            mid = pp.load_model({str(MODELS / "sir.mdl")!r})["model_id"]
            s = pp.run_experiment(mid, {{"type": "lhs", "samples": 20, "seed": 3,
                "parameters": {{"Contact Rate": [4, 14], "Infectivity": [0.05, 0.2]}}}})
            print(json.dumps({{"runs": s["run_count"], "stats": sorted(m for m in sys.modules if m.startswith("scipy.stats"))}}))
            """,
            self.dir,
        )
        self.assertEqual(out["runs"], 20)
        self.assertEqual(out["stats"], [])

    def test_a_later_import_of_either_package_gets_the_real_one(self) -> None:
        out = fresh_python(
            """
            import json
            import peragus_pysd
            import openpyxl, scipy.optimize
            from openpyxl.utils.exceptions import InvalidFileException
            print(json.dumps({
                "openpyxl": openpyxl.__file__, "optimize": scipy.optimize.__file__,
                "error": InvalidFileException.__module__, "minimize": callable(scipy.optimize.minimize),
            }))
            """,
            self.dir,
        )
        self.assertTrue(out["openpyxl"].endswith("openpyxl/__init__.py"), out)
        self.assertTrue(out["optimize"].endswith("scipy/optimize/__init__.py"), out)
        self.assertEqual(out["error"], "openpyxl.utils.exceptions")
        self.assertTrue(out["minimize"])

    def test_a_workbook_pysd_opens_is_read_by_openpyxl_and_rebinds_pysds_names(self) -> None:
        out = fresh_python(
            """
            import json
            from pathlib import Path
            import peragus_pysd, pysd.py_backend.external as ext
            import openpyxl
            wb = openpyxl.Workbook(); wb.active["B2"] = 42.5; wb.save("book.xlsx")
            opened = ext.Excels.read_opyxl(Path("book.xlsx"))
            from openpyxl.utils.exceptions import InvalidFileException
            print(json.dumps({
                "value": opened.active["B2"].value,
                "rebound": [ext.load_workbook is openpyxl.load_workbook, ext.InvalidFileException is InvalidFileException],
            }))
            """,
            self.dir,
        )
        self.assertEqual(out["value"], 42.5)
        self.assertEqual(out["rebound"], [True, True])

    def test_an_unreadable_workbook_on_first_use_meets_pysds_own_error(self) -> None:
        # PySD catches openpyxl's InvalidFileException and explains it: that except clause must see
        # the real class even when the first workbook PySD ever opens is the bad one.
        out = fresh_python(
            """
            import json
            from pathlib import Path
            import peragus_pysd, pysd.py_backend.external as ext
            Path("data.txt").write_text("not a workbook")
            probe = ext.External.__new__(ext.External)
            probe.py_name, probe.file = "_ext_constant_x", Path("data.txt")
            try:
                probe._get_data_from_file_opyxl("my_range")
                print(json.dumps({"raised": None}))
            except Exception as err:
                print(json.dumps({"raised": type(err).__name__, "message": str(err)}))
            """,
            self.dir,
        )
        self.assertEqual(out["raised"], "ValueError", out)
        self.assertIn("Cannot read the file", out["message"])

    def test_allocation_solves_through_the_real_least_squares(self) -> None:
        out = fresh_python(
            """
            import json
            import peragus_pysd, pysd.py_backend.allocation as alloc
            fit = alloc.least_squares(lambda x: x - 3.0, [0.0])
            import scipy.optimize
            print(json.dumps({"x": float(fit.x[0]), "rebound": alloc.least_squares is scipy.optimize.least_squares}))
            """,
            self.dir,
        )
        self.assertAlmostEqual(out["x"], 3.0, places=6)
        self.assertTrue(out["rebound"])

    def test_a_translation_is_byte_identical_to_plain_pysds(self) -> None:
        texts = {}
        for deferred in (False, True):
            folder = Path(self.dir) / ("deferred" if deferred else "plain")
            folder.mkdir()
            shutil.copy(MODELS / "sir.mdl", folder / "sir.mdl")
            fresh_python(
                f"""
                import json
                {"import peragus_pysd" if deferred else ""}
                import pysd, pysd.builders.python.python_model_builder
                pysd.read_vensim("sir.mdl", initialize=False)
                print(json.dumps({{}}))
                """,
                str(folder),
                deferred=deferred,
            )
            texts[deferred] = (folder / "sir.py").read_bytes()
        self.assertGreater(len(texts[True]), 1000)
        self.assertEqual(texts[True], texts[False])


if __name__ == "__main__":
    unittest.main()

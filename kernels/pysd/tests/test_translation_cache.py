"""The shared translation cache: one translation per content sha256, verified on read,
never loaded when corrupt, and the same results as a model translated in place."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import peragus_pysd as pp
from helpers import MODELS, InTempDir
from peragus_pysd import loader, plancheck


class SharedCache(InTempDir, unittest.TestCase):
    def setUp(self) -> None:
        self.shared = Path(tempfile.mkdtemp(prefix="peragus-shared-"))
        self.local = Path(tempfile.mkdtemp(prefix="peragus-local-"))
        self._env = {k: os.environ.get(k) for k in ("PERAGUS_PYSD_SHARED_CACHE", "PERAGUS_PYSD_CACHE")}
        os.environ["PERAGUS_PYSD_SHARED_CACHE"] = str(self.shared)
        os.environ["PERAGUS_PYSD_CACHE"] = str(self.local)

    def tearDown(self) -> None:
        for k, v in self._env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    def entry(self) -> tuple[Path, dict]:
        (folder,) = [p for p in self.shared.iterdir() if not p.name.startswith(".")]
        return folder, json.loads((folder / "entry.json").read_text())

    def test_plan_check_publishes_and_experiments_reuse_the_verified_translation(self) -> None:
        r = plancheck.run({"model": str(MODELS / "coffee.mdl"), "experiments": [{"type": "single"}]})
        self.assertTrue(r["ok"], r)
        folder, entry = self.entry()
        self.assertEqual(entry["source_sha256"], r["model_sha256"])
        self.assertEqual(loader.sha256_file(folder / entry["py_file"]), entry["py_sha256"])
        m = pp.load_model(str(MODELS / "coffee.mdl"))
        local_py = Path(loader.get_model(m["model_id"]).py_file)
        self.assertEqual(loader.sha256_file(local_py), entry["py_sha256"])
        self.assertFalse(os.access(local_py, os.W_OK) and os.geteuid() != 0)
        fast = pp.run_experiment(m["model_id"], {"type": "single"})["metrics"]

        # The slow path: no shared cache, translated in place.
        os.environ["PERAGUS_PYSD_SHARED_CACHE"] = "0"
        os.environ["PERAGUS_PYSD_CACHE"] = tempfile.mkdtemp(prefix="peragus-slow-")
        slow = pp.run_experiment(pp.load_model(str(MODELS / "coffee.mdl"))["model_id"], {"type": "single"})["metrics"]
        self.assertEqual(fast, slow)

    def test_a_corrupt_entry_is_never_loaded_and_the_next_check_rebuilds_it(self) -> None:
        self.assertTrue(plancheck.run({"model": str(MODELS / "coffee.mdl"), "experiments": []})["ok"])
        folder, entry = self.entry()
        (folder / entry["py_file"]).write_text("raise SystemExit('the corrupt cache entry was loaded')\n")
        sha = entry["source_sha256"]
        self.assertIsNone(loader.shared_translation(sha))
        m = pp.load_model(str(MODELS / "coffee.mdl"))  # translates itself instead
        self.assertEqual(m["time"]["final_time"], 20.0)
        self.assertTrue(plancheck.run({"model": str(MODELS / "coffee.mdl"), "experiments": []})["ok"])
        self.assertIsNotNone(loader.shared_translation(sha))

    def test_experiments_load_the_bytecode_compiled_once_in_the_cache(self) -> None:
        self.assertTrue(plancheck.run({"model": str(MODELS / "coffee.mdl"), "experiments": []})["ok"])
        folder, entry = self.entry()
        self.assertEqual(loader.sha256_file(folder / entry["pyc_file"]), entry["pyc_sha256"])
        compiled: list[str] = []
        real = importlib.machinery.SourceFileLoader.source_to_code

        def counting(loader_self, data, path, **kw):  # type: ignore[no-untyped-def]
            compiled.append(str(path))
            return real(loader_self, data, path, **kw)

        with mock.patch.object(importlib.machinery.SourceFileLoader, "source_to_code", counting):
            m = pp.load_model(str(MODELS / "coffee.mdl"))
        local_py = Path(loader.get_model(m["model_id"]).py_file)
        self.assertEqual(
            loader.sha256_file(Path(importlib.util.cache_from_source(str(local_py)))), entry["pyc_sha256"]
        )
        self.assertNotIn(str(local_py), compiled)  # the model came from the shared bytecode
        self.assertEqual(m["time"]["final_time"], 20.0)

    def test_a_corrupt_bytecode_file_is_never_used(self) -> None:
        self.assertTrue(plancheck.run({"model": str(MODELS / "coffee.mdl"), "experiments": []})["ok"])
        folder, entry = self.entry()
        pyc = folder / entry["pyc_file"]
        os.chmod(pyc, 0o644)
        data = bytearray(pyc.read_bytes())
        data[-8:] = b"\x00" * 8  # same header (valid source hash), broken code
        pyc.write_bytes(bytes(data))
        m = pp.load_model(str(MODELS / "coffee.mdl"))
        local_py = Path(loader.get_model(m["model_id"]).py_file)
        cached = Path(importlib.util.cache_from_source(str(local_py)))
        self.assertFalse(cached.exists() and cached.read_bytes() == bytes(data))  # compiled from source instead
        self.assertEqual(pp.run_experiment(m["model_id"], {"type": "single"})["run_count"], 1)

    def test_plan_check_names_the_misspelled_parameter_and_the_untranslatable_model(self) -> None:
        r = plancheck.run(
            {"model": str(MODELS / "coffee.mdl"), "experiments": [{"type": "single", "parameters": {"Cooling Tme": 3}}]}
        )
        self.assertFalse(r["ok"])
        self.assertRegex(r["error"], r"unknown parameter 'Cooling Tme'.*did you mean 'Cooling Time'")
        before = sorted(self.shared.iterdir())
        bad = self.local / "bad.mdl"
        bad.write_text("x = {{ not vensim")
        r = plancheck.run({"model": str(bad), "experiments": []})
        self.assertFalse(r["ok"])
        self.assertRegex(r["error"], r"PySD cannot translate bad\.mdl")
        self.assertEqual(sorted(self.shared.iterdir()), before)  # nothing half-written is left


if __name__ == "__main__":
    unittest.main()

"""load_model(sha256=...): a notebook names its model by path and checksum."""

from __future__ import annotations

import hashlib
import shutil
import unittest
from pathlib import Path

import peragus_pysd as pp
from helpers import MODELS, InTempDir


class ModelSha256(InTempDir, unittest.TestCase):
    def test_the_same_file_loads_and_a_changed_one_is_refused(self) -> None:
        Path("models").mkdir()
        shutil.copy(MODELS / "coffee.mdl", "models/coffee.mdl")
        sha = hashlib.sha256(Path("models/coffee.mdl").read_bytes()).hexdigest()
        info = pp.load_model("models/coffee.mdl", sha256=sha, confine_to=".")
        self.assertTrue(info["model_id"].startswith("coffee-"))
        with open("models/coffee.mdl", "a", encoding="utf-8") as f:
            f.write("\n")
        with self.assertRaises(pp.PeragusError) as ctx:
            pp.load_model("models/coffee.mdl", sha256=sha, confine_to=".")
        self.assertIn("the model file changed", str(ctx.exception))
        with self.assertRaises(pp.PeragusError) as missing:
            pp.load_model("models/absent.mdl", sha256=sha, confine_to=".")
        self.assertIn("model file not found", str(missing.exception))
        with self.assertRaises(pp.PathOutsideWorkDirError):
            pp.load_model("../coffee.mdl", sha256=sha, confine_to=".")


if __name__ == "__main__":
    unittest.main()

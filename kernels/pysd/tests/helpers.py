"""Shared set-up for the peragus_pysd tests (unittest; pytest collects them too)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
MODELS = REPO / "notebooks" / "models"


def sd_models() -> Path | None:
    env = os.environ.get("PERAGUS_SD_TEST_MODELS")
    p = Path(env) if env else REPO.parent / "shared" / "sd-test-models"
    return p if p.is_dir() else None


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class InTempDir:
    """Mixin: each test class runs in its own temporary working directory."""

    _old: str
    _tmp: tempfile.TemporaryDirectory[str]

    @classmethod
    def setUpClass(cls) -> None:
        cls._old = os.getcwd()
        cls._tmp = tempfile.TemporaryDirectory(prefix="peragus-pysd-test-")
        os.chdir(cls._tmp.name)
        # Translations are cached per working dir; share one cache across classes.
        os.environ.setdefault("PERAGUS_PYSD_CACHE", str(Path(tempfile.gettempdir()) / "peragus-pysd-test-cache"))

    @classmethod
    def tearDownClass(cls) -> None:
        os.chdir(cls._old)
        cls._tmp.cleanup()

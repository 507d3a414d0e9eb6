"""Shared set-up for the peragus_pysd tests (unittest; pytest collects them too)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import textwrap
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


PACKAGE_DIR = Path(__file__).resolve().parents[1] / "python"


def fresh_python(code: str, cwd: str, deferred: bool = True) -> dict:
    """Runs ``code`` in a new interpreter (with peragus_pysd on its path when ``deferred``); returns its last line as JSON."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    env["PYTHONPATH"] = str(PACKAGE_DIR) if deferred else ""
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if r.returncode != 0:
        raise AssertionError(f"python failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])

"""Check a plan against its model once, before any experiment starts.

``python -m peragus_pysd.plancheck`` reads one JSON object on stdin::

    {"model": "/path/model.mdl", "format": "vensim" | null,
     "experiments": [{"type": "single", "parameters": {...}}, ...]}

translates the model into the shared translation cache
(``$PERAGUS_PYSD_SHARED_CACHE``, see :mod:`peragus_pysd.loader`), then validates
every experiment object against the model exactly as ``run_experiment`` would
(parameter names, specifications, metrics, experiment type). It prints one JSON
line: ``{"ok": true, "model_sha256", "py_sha256"}`` or ``{"ok": false, "error"}``
naming the first problem (and which experiment has it). A model that does not
translate or a misspelled parameter thus fails the whole plan once, before any
container is started.

With ``"translate_only": true`` it only fills the shared cache: the host does
this before a session's ``pysd_model_load``, so that kernel and every later one
load the translation instead of translating it again.

With ``"describe": true`` the answer also carries ``"description"``: what the
workbench's model page shows (:func:`describe`). A model is code, so the host
never loads one itself: this runs in the check's sandbox like every check.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

from . import loader
from .errors import PeragusError


def check(request: dict[str, Any]) -> dict[str, Any]:
    path = Path(str(request["model"])).resolve()
    if not path.is_file():
        return {"ok": False, "error": f"model file not found: {str(path)!r}"}
    fmt = loader.detect_format(path, request.get("format"))
    sha = loader.sha256_file(path)
    py_sha = None
    if fmt != "python" and loader.shared_cache_root() is not None:
        py_sha = loader.sha256_file(loader.publish_translation(path, fmt, sha))
    if request.get("translate_only"):
        # A session's model load, translated ahead for its kernel: nothing to validate.
        return {"ok": True, "model_sha256": sha, "py_sha256": py_sha}
    if request.get("describe"):
        return {"ok": True, "model_sha256": sha, "py_sha256": py_sha, "description": describe(path, fmt)}
    loaded = loader.load(path, format=fmt)
    from .params import NameResolver  # noqa: PLC0415 - after the model: scipy is only needed here
    from .validate import normalize  # noqa: PLC0415

    model = loaded.fresh()
    resolver = NameResolver(model)
    seen: set[str] = set()
    for index, experiment in enumerate(request.get("experiments") or []):
        key = json.dumps(experiment, sort_keys=True, default=str)
        if key in seen:
            continue
        seen.add(key)
        try:
            normalize(resolver, experiment)
        except PeragusError as exc:
            where = f"experiment {index}" if len(request["experiments"]) > 1 else "the experiment"
            return {"ok": False, "error": f"{where}: {exc}"}
    return {"ok": True, "model_sha256": sha, "py_sha256": py_sha}


def describe(path: Path, fmt: str) -> dict[str, Any]:
    """The model's load summary (stocks, flows, auxiliaries, constants, time settings) with its
    dependency graph and units check, as JSON values."""
    from . import analyze_model, load_model  # noqa: PLC0415

    info = dict(load_model(str(path), format=fmt, confine_to=str(path.parent)))
    analysis = dict(analyze_model(info["model_id"]))
    info["analysis"] = {"graph": analysis.get("graph"), "units_check": analysis.get("units_check")}
    info["source"] = path.name  # the check's scratch folder is nobody's business
    # Whatever the summary holds (numpy numbers, paths) goes out as JSON.
    return json.loads(json.dumps(info, default=str))


def run(request: Any) -> dict[str, Any]:
    """The check, with its answer (never raises for bad input)."""
    warnings.simplefilter("ignore")
    try:
        if not isinstance(request, dict):
            raise TypeError("the request must be a JSON object")
        # Local translations (and their data-file links) go to a scratch folder, not the host's cwd.
        with tempfile.TemporaryDirectory(prefix="peragus-plancheck-") as scratch:
            os.environ["PERAGUS_PYSD_CACHE"] = scratch
            return check(request)
    except PeragusError as exc:
        return {"ok": False, "error": str(exc)}
    except (ValueError, KeyError, TypeError) as exc:
        return {"ok": False, "error": f"bad plan check request: {exc}"}


def main() -> int:
    try:
        request = json.loads(sys.stdin.read())
    except ValueError as exc:
        request = exc
    result = run(request) if not isinstance(request, Exception) else {"ok": False, "error": f"bad JSON: {request}"}
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Peragus helpers for PySD experiments, pre-imported in every kernel.

Each public function returns a JSON-able dict (a :class:`~peragus_pysd.display.Result`)
and, inside a Jupyter kernel, displays it once as ``application/vnd.peragus.result+json``
(``{"peragus": 1, "function": NAME, "result": {...}}``) plus a one-line ``text/plain``.
Errors a caller can fix raise :class:`~peragus_pysd.errors.PeragusError` subclasses.

The experiment, analysis and plotting modules (scipy.optimize, SALib, matplotlib)
are imported on first use: every kernel pre-imports this package, and most
experiment containers never plot or optimise, so their cold start skips ~0.6 s.
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import Any

# A cold kernel (the kernelspec's `python -m peragus_pysd.kernel_launcher`) and the kernel
# zygote (`python -m peragus_pysd.zygote`) import this package before their own module runs.
# Their start runs with the cyclic garbage collector off from here, until each turns it on
# before any cell or check runs (kernel_launcher.PeragusKernelApp.initialize, zygote.main): the
# imports (PySD, pandas, xarray, ipykernel) make ≈ 230,000 objects and next to no cyclic
# garbage, and the collector walked the growing heap ≈ 350 times meanwhile (≈ 0.2 CPU-s,
# measured with gc.callbacks).
if sys.orig_argv[1:3] in (["-m", "peragus_pysd.kernel_launcher"], ["-m", "peragus_pysd.zygote"]):
    gc.disable()

from .deferred import import_pysd  # noqa: E402

# Before any module of ours imports pysd: openpyxl and scipy.optimize wait for first use.
import_pysd()

from .describe import summarize  # noqa: E402
from .display import PROGRESS_MIME, RESULT_MIME, Result, emit
from .errors import (
    InvalidExperimentError,
    InvalidParameterError,
    ModelTranslationError,
    NotVectorisableError,
    PathOutsideWorkDirError,
    PeragusError,
    UnknownModelError,
    UnknownParameterError,
    UnsupportedExperimentError,
)
from .loader import get_model, load, loaded_models
from .validate import check_format

__all__ = [
    "RESULT_MIME",
    "PROGRESS_MIME",
    "Result",
    "load_model",
    "run_experiment",
    "analyze_model",
    "visualize",
    "list_models",
    "PeragusError",
    "ModelTranslationError",
    "UnknownModelError",
    "UnknownParameterError",
    "InvalidParameterError",
    "InvalidExperimentError",
    "UnsupportedExperimentError",
    "PathOutsideWorkDirError",
    "NotVectorisableError",
]


def load_model(
    source: str | os.PathLike[str],
    format: str | None = None,  # noqa: A002 - public API name
    name: str | None = None,
    content: str | None = None,
    confine_to: str | os.PathLike[str] | None = None,
    sha256: str | None = None,
) -> Result:
    """Translate a Vensim (.mdl), XMILE (.xmile/.xml/.stmx) or PySD (.py) model once and register it.

    ``content`` first writes that text to ``source``. With ``confine_to`` the
    path must stay inside that directory. The model id is ``slug(name)`` when a
    name is given, else ``<file stem>-<first 8 hex of the file's sha256>``.
    Returns model_id, stocks, flows, auxiliaries, constants (units, limits, docs,
    values), lookups, data, subscripts and time settings. With ``sha256`` the
    file must have that checksum (a notebook names its model by path and hash).
    """

    if sha256 is not None and content is None:
        _check_sha256(source, confine_to, sha256)
    loaded = load(source, format=format, name=name, content=content, confine_to=confine_to)
    info = summarize(loaded)
    c = info["counts"]
    text = (
        f"model {loaded.model_id}: {c['stocks']} stocks, {c['flows']} flows, {c['auxiliaries']} auxiliaries, "
        f"{c['constants']} constants; t={info['time']['initial_time']}..{info['time']['final_time']} "
        f"dt={info['time']['time_step']}"
    )
    return emit("load_model", info, text)


def _check_sha256(source: str | os.PathLike[str], confine_to: str | os.PathLike[str] | None, expected: str) -> None:
    from .loader import confine, sha256_file  # noqa: PLC0415

    path = confine(source, confine_to)
    if not path.is_file():
        raise PeragusError(f"model file not found: {str(source)!r} (the notebook expects it beside itself)")
    actual = sha256_file(path)
    if actual != expected.lower():
        raise PeragusError(
            f"{str(source)!r} has sha256 {actual[:12]}…, but this notebook was written for {expected[:12]}…: "
            "the model file changed; restore the original file or load the new one in a new cell"
        )


def run_experiment(
    model_id: str,
    experiment: dict[str, Any],
    output_format: str = "parquet",
    out_dir: str | os.PathLike[str] = "results",
    name: str | None = None,
) -> Result:
    """Run an experiment (single, sweep, grid, monte_carlo, lhs, sobol, morris, fast, optimization, scenarios).

    Writes ``runs.<fmt>`` (all runs: run_id, [scenario], parameters, time, outputs),
    ``metrics.<parquet|csv>`` (one row per run) and ``summary.json`` into
    ``out_dir/<name or model_id-type-key>/`` and returns the summary: run_count,
    artifacts [{path, sha256, bytes, media_type, role}], metrics aggregates, and
    sensitivity indices / optimization result / scenario table where relevant.
    """

    fmt = check_format(output_format)
    loaded = get_model(model_id)
    from .experiment import run as _run  # noqa: PLC0415  (lazy: see the module docstring)

    summary, timing = _run(loaded, experiment, fmt, Path(out_dir), name)
    summary["timing"] = timing
    text = (
        f"{summary['experiment_type']} on {model_id}: {summary['run_count']} runs"
        f"{', ' + str(summary['failed_runs']) + ' failed' if summary['failed_runs'] else ''}"
        f" in {timing['elapsed_s']}s ({timing['workers']} workers) → {summary['work_dir']}"
    )
    return emit("run_experiment", summary, text)


def analyze_model(model_id: str) -> Result:
    """Documentation table, stock/flow structure, dependency graph, parameters with ranges, units check."""

    from .analyze import analyze as _analyze  # noqa: PLC0415

    info = _analyze(get_model(model_id))
    u = info["units_check"]
    text = (
        f"model {model_id}: {len(info['documentation'])} elements, {len(info['graph']['edges'])} dependencies, "
        f"{len(info['parameters'])} parameters, units: {len(u['issues'])} issue(s)"
    )
    return emit("analyze_model", info, text)


def visualize(target: str, kind: str = "timeseries", **options: Any) -> Result:
    """Plot a model run or an experiment's results to a PNG artifact (with a small base64 preview).

    ``target`` is a model id (the model is run once with its defaults) or a
    results path (an experiment work dir, its runs/metrics file or summary.json).
    ``kind``: timeseries | fan | scatter | tornado. See :func:`peragus_pysd.plots.plot`.
    """

    from .plots import plot as _plot  # noqa: PLC0415

    info = _plot(target, kind, **options)
    return emit("visualize", info, f"{kind} plot → {info['artifacts'][0]['path']}")


def list_models() -> list[str]:

    return loaded_models()

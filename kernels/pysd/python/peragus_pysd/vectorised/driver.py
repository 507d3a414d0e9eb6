"""Runs a sweep's design as chunks of vectorised integrations, or says why it cannot.

Order of decisions (``vectorise``: ``auto`` | ``on`` | ``off``):

1. Before running: the static scan (:mod:`.scan`), the parameters (constants
   only, no time settings varying per run) and the experiment type.
2. The first chunk runs vectorised; any error in it (``if`` on an array, a
   shape that is not one value per run, a delay order that differs across
   runs, a random draw in a mixed IF THEN ELSE) is a reason to fall back.
3. Its first and last runs are run again per run and must agree within 1e-9
   relative (per column scale), or the experiment falls back.

``auto`` falls back to the per-run engine for the whole experiment (nothing has
been written yet) and reports ``mode: "per_run"`` with the reason; ``on``
raises :class:`NotVectorisableError` with that reason instead. A later chunk
that fails (a run that divides by zero, for instance) runs per run, so each of
its runs gets exactly its per-run outcome; the report counts such chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import NotVectorisableError
from ..loader import CONTROL_VARS, LoadedModel
from ..runner import RunOutput, RunPlan, execute
from ..sampling import Design, run_column, run_keys, run_seed
from . import engine
from .patches import Unsupported
from .scan import Scan, scan_file

MIN_CHUNK = 67  # chunks never have 2..66 runs: no run axis can line up with a small internal axis
FIRST_CHUNK = 256
MAX_CHUNK = 20_000
CHUNK_BYTES = 64 * 1024 * 1024  # outputs of one chunk that vary per run (runs x times x columns, float64)
RTOL = 1e-9


@dataclass
class Report:
    mode: str  # vectorised | per_run
    reason: str | None = None
    chunks: int = 0
    chunk_runs: list[int] = field(default_factory=list)
    per_run_chunks: int = 0
    per_run_chunk_reasons: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode}
        if self.reason:
            out["reason"] = self.reason
        if self.mode == "vectorised":
            out["chunks"] = self.chunks
            out["max_chunk_runs"] = max(self.chunk_runs) if self.chunk_runs else 0
            out["per_run_chunks"] = self.per_run_chunks
            if self.per_run_chunk_reasons:
                out["per_run_chunk_reasons"] = self.per_run_chunk_reasons[:5]
        return out


def static_reason(loaded: LoadedModel, model: Any, kind: str, design: Design | None, touched: list[str]) -> str | None:
    """Why this experiment cannot run vectorised, known before running; None when it may."""
    if design is None:
        return f"a {kind} experiment picks its runs from earlier results, one batch at a time"
    varied_time = sorted(k for k in run_keys(design.runs) if k in CONTROL_VARS)
    if varied_time:
        return f"time settings vary across runs ({', '.join(varied_time)}): each run has its own time grid"
    for py in touched:
        func = getattr(model.components, py)
        kind_ = getattr(func, "type", None)
        real = loaded_name(model, py)
        if kind_ != "Constant":
            return f"parameter {real!r} is a {kind_ or 'function'} in the model, not a constant"
        try:
            value = func()
        except Exception as exc:  # noqa: BLE001 - reported as the reason
            return f"parameter {real!r}: its model value cannot be read ({type(exc).__name__})"
        if np.ndim(value) != 0:
            return f"parameter {real!r} is subscripted"
    scan = scan_of(loaded, model)
    varied_clock = _time_depends_on(model, scan, set(touched))
    if varied_clock:
        setting, param = varied_clock
        return f"the time setting {setting} depends on parameter {loaded_name(model, param)!r}: each run has its own time grid"
    blockers = scan.blockers
    if blockers:
        more = f" (and {len(blockers) - 1} more)" if len(blockers) > 1 else ""
        return blockers[0].describe() + more
    return None


def _time_depends_on(model: Any, scan: Scan, touched: set[str]) -> tuple[str, str] | None:
    """(time setting, parameter) when a varied parameter feeds INITIAL/FINAL TIME, TIME STEP or SAVEPER."""
    deps = model._dependencies
    for setting, calls in scan.control.items():
        seen: set[str] = set()
        stack = list(calls)
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            if name in touched:
                return setting, name
            entry = deps.get(name) or {}
            for d, v in entry.items():
                if isinstance(v, dict):  # a stateful object's {"initial": {...}, "step": {...}}
                    stack.extend(k for sub in v.values() if isinstance(sub, dict) for k in sub)
                stack.append(d)
    return None


def loaded_name(model: Any, py: str) -> str:
    for real, p in model.namespace.items():
        if p == py:
            return real
    return py


_SCANS: dict[str, Scan] = {}


def scan_of(loaded: LoadedModel, model: Any) -> Scan:
    key = f"{loaded.sha256}:{loaded.py_file}"
    if key not in _SCANS:
        _SCANS[key] = scan_file(loaded.py_file, getattr(model, "subscripts", None))
    return _SCANS[key]


def _where(exc: BaseException, py_file: Path, model: Any, scan: Scan) -> str:
    """'variable X (in function f)': the innermost model equation or stateful object on the traceback."""
    target = py_file.resolve()
    inner, var, obj = "?", None, None
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        inner = frame.f_code.co_name
        if Path(frame.f_code.co_filename).resolve() == target and inner != "<lambda>":
            var = inner
        holder = frame.f_locals.get("self")
        name = getattr(holder, "py_name", None)
        if isinstance(name, str) and name in scan.owners:
            obj = (type(holder).__name__, name)
        tb = tb.tb_next
    if obj is not None:
        real = scan.owners[obj[1]]
        return f"variable {real!r} ({obj[0]} {obj[1]}, in function {inner})"
    if var is not None:
        return f"variable {loaded_name(model, var)!r} (in function {inner})"
    return f"in function {inner}"


def _compare(a: RunOutput, cols: list[str], values: np.ndarray) -> str | None:
    if a.error is not None:
        return f"its per-run simulation fails ({a.error[:200]})"
    if a.columns != cols or a.values is None or a.values.shape != values.shape:
        return "its per-run simulation has other columns or times"
    for j, c in enumerate(cols):
        x, y = a.values[:, j], values[:, j]
        scale = float(np.nanmax(np.abs(x))) if np.any(np.isfinite(x)) else 0.0
        if not np.allclose(x, y, rtol=RTOL, atol=RTOL * scale, equal_nan=True):
            return f"column {c!r} differs from its per-run simulation"
    return None


def run(
    loaded: LoadedModel,
    plan: RunPlan,
    design: Design | None,
    touched: list[str],
    vectorise: str,
    emit: Callable[[RunOutput, dict[str, float], str | None], None],
    emit_block: Callable[[list[int], engine.ChunkResult, np.ndarray], None],
    kind: str = "",
) -> Report:
    """Run every run of ``design`` vectorised, passing outputs in run order to ``emit_block`` (a chunk)
    or ``emit`` (one run of a chunk that ran per run).

    Returns a per_run report (nothing emitted) when the experiment must run per run instead.
    """
    model = plan.model
    reason = None if vectorise != "off" else "vectorise: off"
    if reason is None and vectorise == "auto" and design is not None and len(design.runs) < 2:
        reason = "a single run"
    if reason is None:
        reason = static_reason(loaded, model, kind, design, touched)
    if reason is not None:
        if vectorise == "on":
            raise NotVectorisableError(f"this experiment cannot run vectorised: {reason}; use vectorise 'auto' or 'off'")
        return Report("per_run", reason)

    assert design is not None
    scan = scan_of(loaded, model)
    runs = design.runs
    labels = design.labels or [None] * len(runs)
    total = len(runs)
    report = Report("vectorised")
    start, size = 0, min(FIRST_CHUNK, total)
    first = True
    while start < total:
        stop = min(total, start + size)
        ids = list(range(start, stop))
        try:
            res = _run_ids(loaded, plan, scan, runs, ids, touched)
            if first:
                problem = _spot_check(plan, runs, ids, res)
                if problem:
                    raise Unsupported(problem)
        except Exception as exc:  # noqa: BLE001 - any failure: fall back (first chunk) or per run (later)
            where = _where(exc, loaded.py_file, model, scan)
            why = f"{where}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:400]
            if first:
                if vectorise == "on":
                    raise NotVectorisableError(
                        f"this experiment cannot run vectorised: {why}; use vectorise 'auto' or 'off'"
                    ) from exc
                return Report("per_run", why)
            report.per_run_chunks += 1
            report.per_run_chunk_reasons.append(why)
            for i in ids:
                emit(execute(plan, i, runs[i]), runs[i], labels[i])
        else:
            res = res.select([j for j, c in enumerate(res.columns) if c not in plan.drop_columns])
            emit_block(ids, res, engine.block_metrics(plan.metrics, res))
            per_run_bytes = max(1, sum(d.shape[0] * 8 for d in res.data if d.ndim == 2 and d.strides[0]))
            del res
            size = int(min(MAX_CHUNK, max(MIN_CHUNK, CHUNK_BYTES // per_run_bytes)))
        report.chunks += 1
        report.chunk_runs.append(len(ids))
        first = False
        start = stop
    return report


def _run_ids(
    loaded: LoadedModel, plan: RunPlan, scan: Scan, runs: Sequence[dict[str, float]], ids: list[int], touched: list[str]
) -> engine.ChunkResult:
    """One vectorised integration of ``ids``, padded to at least MIN_CHUNK runs (padding is dropped)."""
    n = len(ids)
    padded = ids + [ids[-1]] * max(0, MIN_CHUNK - n)
    arrays: dict[str, np.ndarray] = {}
    for py in touched:
        arrays[py] = run_column(runs, py, padded, plan.defaults[py])
    seeds = [run_seed(plan.seed, i) for i in padded]
    model = loaded.fresh()
    res = engine.run_chunk(model, scan, arrays, seeds, plan.return_columns, plan.time_kwargs)
    return res.head(n)


def _spot_check(plan: RunPlan, runs: Sequence[dict[str, float]], ids: list[int], res: engine.ChunkResult) -> str | None:
    sel = res.select([j for j, c in enumerate(res.columns) if c not in plan.drop_columns])
    for k in sorted({0, len(ids) - 1}):
        i = ids[k]
        problem = _compare(execute(plan, i, runs[i]), sel.columns, sel.run(k))
        if problem:
            return f"run {i}: {problem}"
    return None

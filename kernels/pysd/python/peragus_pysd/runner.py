"""Running many simulations of one model: in process, or in forked workers.

The model is translated once and loaded once per experiment in the parent; the
worker processes are forked from it (``multiprocessing`` 'fork' context), so
they inherit the loaded model and nothing is pickled but parameter values and
results. Results come back in run order (``imap``), so the caller can stream
them to a file deterministically while keeping one batch in memory.

Each run sets every parameter that any run of the experiment touches (the
others get the model's own value back), so a run's result does not depend on
which runs came before it in the same process.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .fastrun import run_arrays
from .loader import CONTROL_VARS
from .sampling import run_seed

STATS = ("final", "initial", "max", "min", "mean", "time_of_max", "time_of_min")


@dataclass(frozen=True)
class Metric:
    variable: str  # output column name
    stat: str

    @property
    def column(self) -> str:
        return f"{self.stat}({self.variable})"


@dataclass
class RunPlan:
    model: Any  # a fresh pysd Model owned by this experiment
    return_columns: list[str] | None
    time_kwargs: dict[str, float]
    defaults: dict[str, Any]  # py_name -> the model's own value/function for every touched parameter
    metrics: list[Metric]
    drop_columns: set[str] = field(default_factory=set)
    seed: int = 0


@dataclass
class RunOutput:
    run_id: int
    columns: list[str] | None = None
    times: np.ndarray | None = None
    values: np.ndarray | None = None  # shape (len(times), len(columns))
    metrics: list[float] = field(default_factory=list)
    error: str | None = None


def _stat(stat: str, times: np.ndarray, col: np.ndarray) -> float:
    if col.size == 0:
        return float("nan")
    if stat == "final":
        return float(col[-1])
    if stat == "initial":
        return float(col[0])
    if stat == "max":
        return float(np.nanmax(col))
    if stat == "min":
        return float(np.nanmin(col))
    if stat == "mean":
        return float(np.nanmean(col))
    if stat == "time_of_max":
        return float(times[int(np.nanargmax(col))])
    return float(times[int(np.nanargmin(col))])


def compute_metrics(metrics: list[Metric], columns: list[str], times: np.ndarray, values: np.ndarray) -> list[float]:
    index = {c: i for i, c in enumerate(columns)}
    out = []
    for m in metrics:
        j = index.get(m.variable)
        out.append(float("nan") if j is None else _stat(m.stat, times, values[:, j]))
    return out


def split_time_params(params: dict[str, float]) -> tuple[dict[str, Any], dict[str, float]]:
    model_params = {k: v for k, v in params.items() if k not in CONTROL_VARS}
    time_params = {k: v for k, v in params.items() if k in CONTROL_VARS}
    return model_params, time_params


def execute(plan: RunPlan, run_id: int, params: dict[str, float]) -> RunOutput:
    """One simulation; never raises (a failed run carries its error message)."""
    np.random.seed(run_seed(plan.seed, run_id))
    model_params, time_params = split_time_params(params)
    full = dict(plan.defaults)
    full.update(model_params)
    kwargs = {**plan.time_kwargs, **time_params}
    initial_time = kwargs.pop("initial_time", None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            times, all_columns, all_values = run_arrays(
                plan.model,
                params=full or None,
                return_columns=plan.return_columns,
                initial_condition=(initial_time, {}) if initial_time is not None else "original",
                **kwargs,
            )
    except Exception as exc:  # noqa: BLE001 - report any model failure per run
        return RunOutput(run_id=run_id, error=f"{type(exc).__name__}: {exc}"[:500])
    keep = [j for j, c in enumerate(all_columns) if c not in plan.drop_columns]
    columns = [all_columns[j] for j in keep]
    values = all_values if len(keep) == len(all_columns) else all_values[:, keep]
    return RunOutput(
        run_id=run_id,
        columns=columns,
        times=times,
        values=values,
        metrics=compute_metrics(plan.metrics, columns, times, values),
    )


# --- forked workers --------------------------------------------------------

_WORKER_PLAN: RunPlan | None = None


def _worker_init() -> None:
    # Workers are quiet: PySD warnings and prints would go to the kernel's streams.
    warnings.simplefilter("ignore")
    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the worker
    sys.stdout = devnull
    sys.stderr = devnull


def _worker_run(task: tuple[int, dict[str, float]]) -> RunOutput:
    assert _WORKER_PLAN is not None
    return execute(_WORKER_PLAN, task[0], task[1])


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


class Engine:
    """Runs tasks ``(run_id, params)`` and yields their outputs in task order."""

    def __init__(self, plan: RunPlan, workers: int | None, expected_runs: int) -> None:
        self.plan = plan
        n = default_workers() if workers is None else int(workers)
        self.workers = max(1, min(n, max(1, expected_runs)))
        self._pool: Any = None

    def __enter__(self) -> Engine:
        global _WORKER_PLAN
        if self.workers > 1:
            _WORKER_PLAN = self.plan  # inherited by the forked workers
            ctx = mp.get_context("fork")
            self._pool = ctx.Pool(self.workers, initializer=_worker_init)
        return self

    def __exit__(self, *exc: object) -> None:
        global _WORKER_PLAN
        if self._pool is not None:
            if exc[0] is None:
                self._pool.close()
            else:
                self._pool.terminate()
            self._pool.join()
            self._pool = None
        _WORKER_PLAN = None

    def map(self, tasks: Iterable[tuple[int, dict[str, float]]], count: int) -> Iterator[RunOutput]:
        if self._pool is None:
            for run_id, params in tasks:
                yield execute(self.plan, run_id, params)
            return
        chunk = max(1, min(8, count // (self.workers * 8)))
        yield from self._pool.imap(_worker_run, tasks, chunksize=chunk)

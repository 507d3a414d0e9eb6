"""One chunk of N runs as one PySD integration: constants become arrays of length N.

The integration is PySD's own (``_config_simulation`` + ``_integrate``, as in
:mod:`peragus_pysd.fastrun`): stocks hold arrays, ``state + ddt * dt`` advances
every run at once. Varied constants are set the way ``Model.set_components``
sets a number (a constant function, no dependencies, so cache types are the
same as per run), holding an array instead.

Floating-point errors raise (``np.errstate``) instead of warning: a run that
divides by zero or overflows makes the chunk fail, and the driver runs that
chunk per run, where each run gets exactly its per-run outcome.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..fastrun import integrate_with
from ..runner import STATS
from . import patches
from .scan import Scan

try:
    from pysd.py_backend.statefuls import Delay, DelayFixed, DelayN, Smooth, Stateful
except ImportError:  # pragma: no cover - other PySD layouts
    Delay = DelayFixed = DelayN = Smooth = Stateful = ()  # type: ignore[assignment,misc]

ERRSTATE = {"divide": "raise", "over": "raise", "invalid": "raise", "under": "ignore"}


@dataclass
class ChunkResult:
    """The outputs of N runs. Each column is a (T, N) array, or (T,) when it is the same in every run."""

    times: np.ndarray  # (T,)
    columns: list[str]
    data: list[np.ndarray]
    n: int

    def head(self, n: int) -> ChunkResult:
        """The first ``n`` runs (drops padding)."""
        return ChunkResult(self.times, self.columns, [d if d.ndim == 1 else d[:, :n] for d in self.data], n)

    def select(self, keep: list[int]) -> ChunkResult:
        return ChunkResult(self.times, [self.columns[j] for j in keep], [self.data[j] for j in keep], self.n)

    def run(self, i: int) -> np.ndarray:
        """(T, C) values of run ``i``."""
        out = np.empty((len(self.times), len(self.columns)))
        for j, d in enumerate(self.data):
            out[:, j] = d if d.ndim == 1 else d[:, i]
        return out

    def flat(self, j: int, a: int, b: int) -> np.ndarray:
        """Column ``j`` for runs a..b-1, run-major (run a's times, then run a+1's, ...)."""
        d = self.data[j]
        if d.ndim == 1:
            return np.tile(d, b - a)
        return np.ascontiguousarray(d[:, a:b].T).ravel()

    def matrix(self, j: int) -> np.ndarray:
        """(T, N) values of column ``j``."""
        d = self.data[j]
        return np.broadcast_to(d[:, None], (len(d), self.n)) if d.ndim == 1 else d


class _BlockHandler:
    """PySD output handler that keeps the raw values of each saved step and stacks them at the end."""

    capture_elements_step: list[str]
    capture_elements_run: list[str]

    def __init__(self, n: int) -> None:
        self.n = n

    def initialize(self, model: Any) -> None:
        self.funcs = [getattr(model.components, k) for k in self.capture_elements_step]
        self.time = model.time
        self.times: list[float] = []
        self.rows: list[list[Any]] = []
        self.fixed_decimals = (
            -int(np.log10(model.time.time_step() * model.time.rprec)) if model.cache_type.get("time_step") == "run" else None
        )
        self.decimals: list[int] = []

    def update(self, model: Any) -> None:
        self.times.append(self.time._time)
        if self.fixed_decimals is None:
            self.decimals.append(-int(np.log10(self.time.time_step() * self.time.rprec)))
        self.rows.append([f() for f in self.funcs])

    def add_run_elements(self, model: Any) -> None:
        self.run_values = {k: getattr(model.components, k)() for k in self.capture_elements_run}

    def _column(self, name: str, values: list[Any]) -> np.ndarray:
        t = len(values)
        try:
            block = np.array(values, dtype=np.float64)
        except (TypeError, ValueError):  # scalars at some steps, arrays at others
            block = None
        if block is not None and block.shape == (t,):
            return block
        if block is not None and block.shape == (t, self.n):
            return block
        out = np.empty((t, self.n))
        for k, v in enumerate(values):
            a = np.asarray(v, dtype=np.float64)
            if a.ndim and a.shape != (self.n,):
                raise patches.Unsupported(f"{name} has shape {a.shape}, not one value per run")
            out[k] = a
        return out

    def postprocess(self, **kwargs: Any) -> ChunkResult:
        raw = np.asarray(self.times, dtype=np.float64)
        if self.fixed_decimals is not None:
            times = np.round(raw, self.fixed_decimals)
        else:
            times = np.array([np.round(t, d) for t, d in zip(raw, self.decimals, strict=True)])
        addresses = kwargs["return_addresses"]
        index = {k: i for i, k in enumerate(self.capture_elements_step)}
        data = []
        for py, addr in addresses.values():
            if addr:
                raise patches.Unsupported(f"output {py} is subscripted")
            if py in self.run_values:  # constant over time: a view, not T copies
                v = np.asarray(self.run_values[py], dtype=np.float64)
                if v.ndim == 0:
                    data.append(np.full(len(raw), float(v)))
                elif v.shape == (self.n,):
                    data.append(np.broadcast_to(v, (len(raw), self.n)))
                else:
                    raise patches.Unsupported(f"{py} has shape {v.shape}, not one value per run")
            else:
                i = index[py]
                data.append(self._column(py, [r[i] for r in self.rows]))
        self.rows = []
        return ChunkResult(times, [str(c) for c in addresses], data, self.n)


def _set_array(model: Any, py: str, value: np.ndarray) -> None:
    """``Model._set_components`` for a number, with an array as the number."""
    func = getattr(model.components, py)

    def constant() -> np.ndarray:
        return value

    constant.__name__ = py
    constant.__dict__.update(getattr(func, "__dict__", {}))
    model.components._set_component(py, constant)
    model._dependencies[py] = {}
    model.cache.cached_funcs.discard(py)


def _vector_euler(model: Any) -> None:
    """``Model._euler_step`` without packing states into one object array.

    PySD builds ``np.array([...], dtype=object)`` of the stocks' states; with
    arrays of equal length that becomes a 2-D array instead of one object per
    stock. Same arithmetic, one stock at a time: all derivatives first, then
    every update.
    """

    def euler_step(dt: float) -> None:
        elements = model._dynamicstateful_elements
        states = [c.state for c in elements]
        ddts = [c.ddt() for c in elements]
        for c, s, d in zip(elements, states, ddts, strict=True):
            c.update(s + d * dt)

    model._euler_step = euler_step


def _broadcast_states(module: Any, n: int) -> None:
    """Give every stock one value per run from the start (a constant initial value is the same for all runs).

    Without it a stock, smooth or delay that starts from a constant holds a scalar (or one value per
    stage) and cannot take the per-run values of its inflows. Values per run are unchanged.
    """
    for obj in vars(module).values():
        if not isinstance(obj, Stateful) or isinstance(obj, DelayFixed) or obj.shape_info:
            continue
        state = getattr(obj, "_state", None)
        if state is None:
            continue
        staged = isinstance(obj, (Delay, DelayN, Smooth))
        if not staged and np.ndim(state) == 0:
            obj._state = np.full(n, float(state))
        elif staged and np.ndim(state) == 1:
            obj._state = np.repeat(np.asarray(state, dtype=np.float64)[:, None], n, axis=1)
        if isinstance(obj, DelayN) and np.ndim(obj.times) == 1:  # the delay times of its stages
            obj.times = np.repeat(np.asarray(obj.times, dtype=np.float64)[:, None], n, axis=1)


def _check_delays(module: Any, n: int) -> None:
    """PySD lowers a delay's order by the smallest delay time of the chunk; per run it uses that run's."""
    for obj in vars(module).values():
        if not isinstance(obj, (Delay, DelayN)) or obj.order is None:
            continue
        dt = np.broadcast_to(np.asarray(obj.delay_time_func(), dtype=float), (n,))
        tstep = float(obj.tstep())
        order = int(obj.order_func())
        per_run = np.full(n, order)
        for i, d in enumerate(dt):
            while per_run[i] * tstep > d:
                per_run[i] -= 1
        if np.any(per_run != obj.order):
            raise patches.Unsupported(f"{obj.py_name}: the delay order PySD lowers for short delay times differs across runs")


def run_chunk(
    model: Any,
    scan: Scan,
    arrays: dict[str, np.ndarray],
    seeds: list[int] | None,
    return_columns: list[str] | None,
    time_kwargs: dict[str, float],
) -> ChunkResult:
    """Integrate a fresh ``model`` once for all runs of ``arrays`` (py_name -> values, one per run)."""
    n = len(next(iter(arrays.values())))
    rngs = [np.random.RandomState(s) for s in seeds] if seeds is not None and scan.uses_random else None
    module = model.components._components
    patches.install(module, rngs, scan.lookups)
    for py, arr in arrays.items():
        _set_array(model, py, np.ascontiguousarray(arr, dtype=np.float64))
    _vector_euler(model)
    kwargs = dict(time_kwargs)
    initial_time = kwargs.pop("initial_time", None)
    with warnings.catch_warnings(), np.errstate(**ERRSTATE):
        warnings.simplefilter("ignore")
        model._stepper_mode = False
        model._config_simulation(
            None,
            return_columns,
            None,
            (initial_time, {}) if initial_time is not None else "original",
            kwargs.get("final_time"),
            kwargs.get("time_step"),
            kwargs.get("saveper"),
            True,
            progress=False,
        )
        _check_delays(module, n)
        _broadcast_states(module, n)
        return integrate_with(model, _BlockHandler(n))


def block_metrics(metrics: list[Any], res: ChunkResult) -> np.ndarray:
    """:func:`peragus_pysd.runner.compute_metrics` for every run of a chunk at once: (N, M)."""
    n, times = res.n, res.times
    out = np.full((n, len(metrics)), np.nan)
    index = {c: i for i, c in enumerate(res.columns)}
    if len(times) == 0:
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k, m in enumerate(metrics):
            j = index.get(m.variable)
            if j is None:
                continue
            col = res.matrix(j)  # (T, N)
            assert m.stat in STATS
            if m.stat == "final":
                out[:, k] = col[-1]
            elif m.stat == "initial":
                out[:, k] = col[0]
            elif m.stat == "max":
                out[:, k] = np.nanmax(col, axis=0)
            elif m.stat == "min":
                out[:, k] = np.nanmin(col, axis=0)
            elif m.stat == "mean":
                out[:, k] = np.nanmean(col, axis=0)
            else:
                finite = ~np.all(np.isnan(col), axis=0)
                pick = np.nanargmax if m.stat == "time_of_max" else np.nanargmin
                idx = np.zeros(n, dtype=int)
                if finite.any():
                    idx[finite] = pick(col[:, finite], axis=0)
                out[:, k] = np.where(finite, times[idx], np.nan)
    return out

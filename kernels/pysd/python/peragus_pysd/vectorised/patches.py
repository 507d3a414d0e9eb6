"""Array-aware stand-ins for the PySD functions whose scalar versions branch on values.

They are installed in the namespace of one model's module (each model instance
has its own module, see ``pysd.py_backend.components.Components._load``), so the
pristine model and other experiments are untouched. With scalar arguments each
one calls PySD's own function, so a value that does not vary across runs is
computed exactly as in a per-run simulation.

Random functions draw per run: run i draws from its own ``RandomState`` seeded
with the seed its per-run simulation uses (``np.random.seed(run_seed)``), in the
same order, so the values do not depend on the mode. A draw inside a branch of
an IF THEN ELSE whose condition differs across runs would break that order (the
array version evaluates both branches), so it raises :class:`Unsupported`.
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np
from pysd.py_backend import functions as pf

SMALL_VENSIM = pf.SMALL_VENSIM


class Unsupported(RuntimeError):
    """The model cannot run with arrays of runs (raised while running; the driver falls back)."""


def _is_vec(x: Any) -> bool:
    return isinstance(x, np.ndarray) and x.ndim > 0


class _Context:
    """Per-model state of the stand-ins: the per-run generators and the branch depth."""

    def __init__(self, rngs: list[np.random.RandomState] | None) -> None:
        self.rngs = rngs
        self.branch_depth = 0


def install(module: Any, rngs: list[np.random.RandomState] | None, lookups: list[str]) -> None:
    ctx = _Context(rngs)

    def if_then_else(condition: Any, val_if_true: Any, val_if_false: Any) -> Any:
        if not _is_vec(condition):
            return pf.if_then_else(condition, val_if_true, val_if_false)
        cond = condition.astype(bool)
        if cond.all():
            return val_if_true()
        if not cond.any():
            return val_if_false()
        ctx.branch_depth += 1
        try:
            a, b = val_if_true(), val_if_false()
        finally:
            ctx.branch_depth -= 1
        return np.where(cond, a, b)

    def xidz(numerator: Any, denominator: Any, x: Any) -> Any:
        if not _is_vec(denominator):
            return pf.xidz(numerator, denominator, x)
        small = np.abs(denominator) < SMALL_VENSIM
        with np.errstate(divide="ignore", invalid="ignore"):
            q = numerator / np.where(small, 1.0, denominator)
        return np.where(small, x, q)

    def zidz(numerator: Any, denominator: Any) -> Any:
        if not _is_vec(denominator):
            return pf.zidz(numerator, denominator)
        small = np.abs(denominator) < SMALL_VENSIM
        with np.errstate(divide="ignore", invalid="ignore"):
            q = numerator / np.where(small, 1.0, denominator)
        return np.where(small, 0, q)

    def to_float(x: Any = 0.0) -> Any:
        if _is_vec(x):
            return np.array(x, dtype=np.float64)
        return float(x)

    _swap_statefuls(module, zidz, if_then_else)
    module.float = to_float  # the equations wrap scalar results in float(); per run that is elementwise
    module.if_then_else = if_then_else
    module.xidz = xidz
    module.zidz = zidz
    for name in lookups:
        setattr(module, name, VecLookup(getattr(module, name)))
    if rngs is not None:
        module.np = _numpy_proxy(ctx)
        module.stats = _stats_proxy(ctx)


def _swap_statefuls(module: Any, zidz: Any, if_then_else: Any) -> None:
    """TREND, FORECAST and SAMPLE IF TRUE call PySD's scalar zidz / if_then_else from the statefuls
    module; their objects in this model get subclasses that call the array-aware ones (same formulas)."""
    from pysd.py_backend import statefuls as st  # noqa: PLC0415

    class Trend(st.Trend):
        def __call__(self) -> Any:
            return zidz(self.input_func() - self.state, self.average_time_function() * np.abs(self.state))

    class Forecast(st.Forecast):
        def __call__(self) -> Any:
            return self.input() * (1 + zidz(self.input() - self.state, self.average_time() * self.state) * self.horizon())

    class SampleIfTrue(st.SampleIfTrue):
        def __call__(self) -> Any:
            return if_then_else(self.condition(), self.actual_value, lambda: self.state)

        def update(self, state: Any) -> None:
            self.state = self.state * 0 + if_then_else(self.condition(), self.actual_value, lambda: self.state)

    swaps = {st.Trend: Trend, st.Forecast: Forecast, st.SampleIfTrue: SampleIfTrue}
    for obj in list(vars(module).values()):
        new = swaps.get(type(obj))
        if new is not None:
            obj.__class__ = new


# --- lookups -----------------------------------------------------------------


class VecLookup:
    """A HardcodedLookups object whose call takes an array of x (one per run) for scalar lookups."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __call__(self, x: Any, final_subs: Any = None) -> Any:
        inner = self._inner
        if not _is_vec(x):
            return inner(x, final_subs)
        if not inner.is_float or final_subs:
            raise Unsupported(f"lookup {inner.py_name} with subscripts called with an array of runs")
        data = inner.data
        xs = np.asarray(data["lookup_dim"].values, dtype=float)
        ys = np.asarray(data.values, dtype=float).reshape(len(xs))
        xv = np.asarray(x, dtype=float)
        if inner.interp == "hold_backward":
            idx = np.clip(np.searchsorted(xs, xv, side="right") - 1, 0, len(xs) - 1)
            out = ys[idx]
        else:
            out = np.interp(xv, xs, ys)
            if inner.interp == "extrapolate" and len(xs) > 1:
                hi, lo = xv > xs[-1], xv < xs[0]
                k_hi = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
                k_lo = (ys[1] - ys[0]) / (xs[1] - xs[0])
                out = np.where(hi, ys[-1] + k_hi * (xv - xs[-1]), out)
                out = np.where(lo, ys[0] + k_lo * (xv - xs[0]), out)
        return out


# --- random functions ----------------------------------------------------------


def _per_run(ctx: _Context, draw: Any, args: tuple[Any, ...], size: Any) -> Any:
    if ctx.branch_depth:
        raise Unsupported("a random function inside IF THEN ELSE whose condition differs across runs")
    rngs = ctx.rngs
    assert rngs is not None
    n = len(rngs)
    cols = [np.broadcast_to(np.asarray(a, dtype=float), (n,)) if _is_vec(a) else None for a in args]
    out = []
    for i, rng in enumerate(rngs):
        vals = tuple(a if c is None else float(c[i]) for a, c in zip(args, cols, strict=True))
        out.append(draw(rng, vals, size))
    first = np.asarray(out[0])
    if first.ndim:
        raise Unsupported("a random function with subscripts")
    return np.asarray(out, dtype=float)


def _numpy_proxy(ctx: _Context) -> Any:
    def uniform(low: Any = 0.0, high: Any = 1.0, size: Any = None) -> Any:
        return _per_run(ctx, lambda rng, a, s: rng.uniform(a[0], a[1], size=s), (low, high), size)

    random = types.SimpleNamespace(uniform=uniform)

    class _Np(types.ModuleType):
        def __getattr__(self, name: str) -> Any:
            return getattr(np, name)

    proxy = _Np("numpy_per_run")
    proxy.random = random  # type: ignore[attr-defined]
    return proxy


def _stats_proxy(ctx: _Context) -> Any:
    from scipy import stats  # noqa: PLC0415

    def wrap(dist: Any) -> Any:
        def rvs(*args: Any, loc: Any = 0.0, scale: Any = 1.0, size: Any = None) -> Any:
            return _per_run(
                ctx,
                lambda rng, a, s: dist.rvs(*a[:-2], loc=a[-2], scale=a[-1], size=s, random_state=rng),
                (*args, loc, scale),
                size,
            )

        return types.SimpleNamespace(rvs=rvs)

    return types.SimpleNamespace(truncnorm=wrap(stats.truncnorm), truncexpon=wrap(stats.truncexpon))

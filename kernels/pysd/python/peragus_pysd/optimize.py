"""Optimization of one metric over bounded parameters (scipy)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .errors import InvalidExperimentError
from .params import ParamSpec
from .sampling import sub_seed

METHODS = ("differential_evolution", "nelder-mead", "powell")
BAD = 1e300  # objective of a failed run (finite, so every scipy method copes)


def decision_variables(params: list[ParamSpec]) -> list[ParamSpec]:
    out = []
    for p in params:
        if not p.varies:
            continue
        if p.bounds() is None:
            raise InvalidExperimentError(
                f"optimization: parameter {p.name!r} needs finite bounds ([min, max], or a distribution with min and max)"
            )
        out.append(p)
    if not out:
        raise InvalidExperimentError("optimization needs at least one parameter given as [min, max]")
    return out


def run(
    evaluate: Callable[[list[np.ndarray]], list[float]],
    variables: list[ParamSpec],
    goal: str,
    budget: int,
    seed: int,
    options: dict[str, Any],
) -> dict[str, Any]:
    """Minimise (or maximise) through ``evaluate`` (a batch of points → objective values, in order)."""
    from scipy import optimize  # noqa: PLC0415  (lazy: only optimization experiments need it)

    method = str(options.get("method", "differential_evolution")).lower()
    if method not in METHODS:
        raise InvalidExperimentError(f"unknown optimization method {method!r}; use one of {', '.join(METHODS)}")
    sign = -1.0 if goal == "max" else 1.0
    bounds = [p.bounds() for p in variables]

    def signed(values: list[float]) -> list[float]:
        return [sign * v if math.isfinite(v) else BAD for v in values]

    def one(x: np.ndarray) -> float:
        return signed(evaluate([np.asarray(x, dtype=float)]))[0]

    if method == "differential_evolution":
        popsize = int(options.get("popsize", 15))
        pop = popsize * len(variables)
        maxiter = int(options.get("maxiter", max(1, budget // pop - 1)))

        def mapper(_func: Any, xs: Iterable[np.ndarray]) -> list[float]:
            return signed(evaluate([np.asarray(x, dtype=float) for x in xs]))

        res = optimize.differential_evolution(
            one,
            bounds,
            rng=np.random.default_rng(sub_seed(seed, 3)),
            popsize=popsize,
            maxiter=maxiter,
            polish=bool(options.get("polish", True)),
            updating="deferred",
            workers=mapper,
            tol=float(options.get("tol", 1e-6)),
        )
    else:
        x0 = np.array([(lo + hi) / 2 for lo, hi in bounds])  # type: ignore[misc]
        res = optimize.minimize(
            one,
            x0,
            method="Nelder-Mead" if method == "nelder-mead" else "Powell",
            bounds=bounds,
            options={"maxfev": budget, "xatol": 1e-8, "fatol": 1e-10} if method == "nelder-mead" else {"maxfev": budget},
        )
    return {
        "method": method,
        "success": bool(res.success),
        "message": str(res.message),
        "x": [float(v) for v in np.atleast_1d(res.x)],
        "fun": float(sign * res.fun) if abs(res.fun) < BAD else None,
    }

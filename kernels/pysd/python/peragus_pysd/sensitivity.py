"""Sensitivity indices from SALib, computed per metric on the unit-space design."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .sampling import Design, sub_seed, unit_problem


def _pack(names: list[str], res: Any, keys: tuple[str, ...]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for i, name in enumerate(names):
        out[name] = {k: float(np.asarray(res[k])[i]) for k in keys if k in res}
    return out


def analyze(kind: str, design: Design, metric_names: list[str], y: np.ndarray, seed: int) -> dict[str, Any]:
    """``{method, parameters, by_metric: {metric: {param: {S1, S1_conf, ST, ST_conf} | {mu_star, ...}}}}``."""
    problem = unit_problem(design.varying)
    names = problem["names"]
    by_metric: dict[str, Any] = {}
    s = sub_seed(seed, 2)
    for j, metric in enumerate(metric_names):
        col = y[:, j]
        if not np.all(np.isfinite(col)):
            by_metric[metric] = {"error": f"{int((~np.isfinite(col)).sum())} runs have no value for this metric"}
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                if kind == "sobol":
                    from SALib.analyze import sobol  # noqa: PLC0415

                    second = bool(design.info.get("calc_second_order", False))
                    res = sobol.analyze(problem, col, calc_second_order=second, seed=s)
                    by_metric[metric] = _pack(names, res, ("S1", "S1_conf", "ST", "ST_conf"))
                elif kind == "morris":
                    from SALib.analyze import morris  # noqa: PLC0415

                    res = morris.analyze(
                        problem, design.unit, col, num_levels=int(design.info.get("num_levels", 4)), seed=s
                    )
                    by_metric[metric] = _pack(names, res, ("mu_star", "mu_star_conf", "sigma", "mu"))
                else:
                    from SALib.analyze import fast  # noqa: PLC0415

                    res = fast.analyze(problem, col, M=int(design.info.get("M", 4)), seed=s)
                    by_metric[metric] = _pack(names, res, ("S1", "S1_conf", "ST", "ST_conf"))
            except Exception as exc:  # noqa: BLE001 - report per metric
                by_metric[metric] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    note = (
        "mu_star/sigma are elementary effects per unit of each parameter's normalized range [0, 1]"
        if kind == "morris"
        else "S1/ST with 95% confidence half-widths (*_conf)"
    )
    return {"method": kind, "parameters": names, "by_metric": by_metric, "note": note}

"""Experiment designs: which parameter values each run uses.

Every design is a pure function of the experiment and its seed. Samplers work
in the unit hypercube and map each column through the parameter's inverse CDF
(:meth:`ParamSpec.ppf`), so ranges, value lists and distributions combine
freely, and SALib sees the unit-space matrix it expects for its analyses.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import InvalidExperimentError, InvalidParameterError
from .params import ParamSpec

MAX_RUNS = 1_000_000
DEFAULT_SAMPLES = {
    "sweep": 10,
    "grid": 5,
    "monte_carlo": 100,
    "lhs": 100,
    "sobol": 64,
    "morris": 10,
    "fast": 65,
    "optimization": 300,
}


@dataclass
class Design:
    runs: Sequence[dict[str, float]]  # py_name -> value, one dict per run (a RunTable for sampled designs)
    labels: list[str | None] = field(default_factory=list)  # scenario name per run
    unit: np.ndarray | None = None  # unit-space matrix (SALib designs), varying params only
    varying: list[ParamSpec] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


def sub_seed(seed: int, *key: int) -> int:
    """A 32-bit seed derived from the experiment seed and a key path (stable across runs)."""
    return int(np.random.SeedSequence(seed, spawn_key=key).generate_state(1)[0])


def run_seed(seed: int, run_id: int) -> int:
    return sub_seed(seed, 1, run_id)


def _fixed(params: list[ParamSpec]) -> dict[str, float]:
    return {p.py_name: float(p.value) for p in params if p.kind == "fixed"}  # type: ignore[arg-type]


class RunTable(Sequence[dict[str, float]]):
    """The parameter sets of a sampled design, held as one array per parameter.

    Reads like a list of ``{py_name: value}`` dicts (one is built per access), so
    a 1,000,000-run design costs its arrays, not a million dicts.
    """

    def __init__(self, names: list[str], columns: list[np.ndarray]) -> None:
        self.names = names
        self.columns = dict(zip(names, (np.asarray(c, dtype=float) for c in columns), strict=True))
        self._n = len(columns[0]) if columns else 0

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        if not -self._n <= i < self._n:
            raise IndexError(i)
        return {k: float(self.columns[k][i]) for k in self.names}


def run_keys(runs: Sequence[dict[str, float]]) -> set[str]:
    """Every parameter name that some run sets."""
    if isinstance(runs, RunTable):
        return set(runs.names) if len(runs) else set()
    return {k for r in runs for k in r}


def run_column(runs: Sequence[dict[str, float]], name: str, ids: list[int], default: float) -> np.ndarray:
    """Values of ``name`` in runs ``ids`` (``default`` where a run leaves it out)."""
    if isinstance(runs, RunTable) and name in runs.columns:
        return runs.columns[name][ids]
    return np.array([float(runs[i].get(name, default)) for i in ids])


def _from_unit(params: list[ParamSpec], varying: list[ParamSpec], unit: np.ndarray) -> RunTable:
    n = unit.shape[0]
    by_name = {p.py_name: p.ppf(unit[:, j]) for j, p in enumerate(varying)}
    names, cols = [], []
    for p in params:
        if p.py_name in by_name:
            names.append(p.py_name)
            cols.append(by_name[p.py_name])
        elif p.kind == "fixed":
            names.append(p.py_name)
            cols.append(np.full(n, float(p.value)))  # type: ignore[arg-type]
    return RunTable(names, cols)


def _ordered(params: list[ParamSpec], row: dict[str, float]) -> dict[str, float]:
    return {p.py_name: row[p.py_name] for p in params if p.py_name in row}


def _need_varying(kind: str, params: list[ParamSpec]) -> list[ParamSpec]:
    varying = [p for p in params if p.varies]
    if not varying:
        raise InvalidExperimentError(
            f"a {kind} experiment needs at least one parameter with a range, values or a distribution"
        )
    return varying


def _check_count(n: int) -> None:
    if n > MAX_RUNS:
        raise InvalidExperimentError(f"the design has {n} runs, more than the limit of {MAX_RUNS}")


def single(params: list[ParamSpec]) -> Design:
    varying = [p.name for p in params if p.varies]
    if varying:
        raise InvalidParameterError(
            f"a single run takes fixed values only; {', '.join(map(repr, varying))} "
            "has a range/values/distribution (use sweep, grid, monte_carlo or lhs)"
        )
    return Design(runs=[_fixed(params)])


def sweep(params: list[ParamSpec], samples: int) -> Design:
    """One parameter at a time over its values, the others at their fixed or base value."""
    varying = _need_varying("sweep", params)
    for p in varying:
        if p.kind == "dist":
            raise InvalidParameterError(f"parameter {p.name!r}: a sweep takes [min, max] or {{values: [...]}}")
    base = _fixed(params)
    runs = []
    for p in varying:
        for v in p.grid(samples):
            runs.append(_ordered(params, {**base, p.py_name: v}))
    _check_count(len(runs))
    return Design(runs=runs, varying=varying, info={"points_per_parameter": samples})


def grid(params: list[ParamSpec], samples: int) -> Design:
    varying = _need_varying("grid", params)
    axes = [p.grid(samples) for p in varying]
    n = int(np.prod([len(a) for a in axes]))
    _check_count(n)
    base = _fixed(params)
    runs = []
    for combo in itertools.product(*axes):
        row = dict(base)
        row.update({p.py_name: float(v) for p, v in zip(varying, combo, strict=True)})
        runs.append(_ordered(params, row))
    return Design(runs=runs, varying=varying, info={"points_per_range": samples})


def monte_carlo(params: list[ParamSpec], samples: int, seed: int) -> Design:
    varying = _need_varying("monte_carlo", params)
    _check_count(samples)
    rng = np.random.default_rng(sub_seed(seed, 0))
    unit = rng.random((samples, len(varying)))
    return Design(runs=_from_unit(params, varying, unit), unit=unit, varying=varying)


def lhs(params: list[ParamSpec], samples: int, seed: int) -> Design:
    varying = _need_varying("lhs", params)
    _check_count(samples)
    unit = latin_hypercube(samples, len(varying), np.random.default_rng(sub_seed(seed, 0)))
    return Design(runs=_from_unit(params, varying, unit), unit=unit, varying=varying)


def latin_hypercube(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """``scipy.stats.qmc.LatinHypercube(d=d, rng=rng).random(n)``, the same numbers for the same
    generator, without importing ``scipy.stats``: its import (every distribution's docstring
    parsed) cost each LHS experiment's kernel ≈ 1 CPU-s, ten times the 200-run LHS itself.
    Like scipy: a child generator spawned from ``rng``'s seed sequence, uniforms first, then one
    shuffle of the strata 1..n per dimension (tests/test_experiments.py checks it against scipy)."""
    bits = rng.bit_generator
    child = np.random.Generator(type(bits)(bits.seed_seq.spawn(1)[0]))
    jitter = child.uniform(size=(n, d))
    strata = np.tile(np.arange(1, n + 1), (d, 1))
    for i in range(d):
        child.shuffle(strata[i, :])
    return (strata.T - jitter) / n


def unit_problem(varying: list[ParamSpec]) -> dict[str, Any]:
    return {"num_vars": len(varying), "names": [p.name for p in varying], "bounds": [[0.0, 1.0]] * len(varying)}


def salib(kind: str, params: list[ParamSpec], samples: int, seed: int, options: dict[str, Any]) -> Design:
    varying = _need_varying(kind, params)
    problem = unit_problem(varying)
    s = sub_seed(seed, 0)
    info: dict[str, Any] = {"base_samples": samples}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if kind == "sobol":
            from SALib.sample import sobol as sampler  # noqa: PLC0415

            second = bool(options.get("calc_second_order", False))
            _check_count(samples * (len(varying) * (2 if second else 1) + 2))
            unit = sampler.sample(problem, samples, calc_second_order=second, seed=s)
            info["calc_second_order"] = second
        elif kind == "morris":
            from SALib.sample import morris as sampler  # noqa: PLC0415

            levels = int(options.get("num_levels", 4))
            _check_count(samples * (len(varying) + 1))
            unit = sampler.sample(problem, samples, num_levels=levels, seed=s)
            info["num_levels"] = levels
        else:
            from SALib.sample import fast_sampler as sampler  # noqa: PLC0415

            m = int(options.get("M", 4))
            if samples <= 4 * m * m:
                raise InvalidExperimentError(f"fast needs samples > 4*M^2 = {4 * m * m} (got {samples})")
            _check_count(samples * len(varying))
            unit = sampler.sample(problem, samples, M=m, seed=s)
            info["M"] = m
    notes = sorted({str(w.message) for w in caught})
    if notes:
        info["notes"] = notes
    unit = np.asarray(unit, dtype=float)
    return Design(runs=_from_unit(params, varying, unit), unit=unit, varying=varying, info=info)


def scenarios(params: list[ParamSpec], named: list[tuple[str, list[ParamSpec]]]) -> Design:
    """One run per scenario; top-level fixed parameters are the base of every scenario."""
    base = _fixed(params)
    if any(p.varies for p in params):
        raise InvalidParameterError("scenario experiments take fixed values only (in parameters and scenarios)")
    runs, labels = [], []
    for name, sparams in named:
        if any(p.varies for p in sparams):
            raise InvalidParameterError(f"scenario {name!r}: scenario parameters must be fixed values")
        runs.append({**base, **_fixed(sparams)})
        labels.append(name)
    return Design(runs=runs, labels=labels)

"""Checks and normalizes the ``experiment`` object (see ARCHITECTURE.md, "Public interfaces")."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidExperimentError, UnknownParameterError, UnsupportedExperimentError
from .params import NameResolver, ParamSpec, parse_params
from .runner import STATS, Metric
from .sampling import DEFAULT_SAMPLES
from .writers import FORMATS

TYPES = (
    "single",
    "sweep",
    "grid",
    "monte_carlo",
    "lhs",
    "sobol",
    "morris",
    "fast",
    "optimization",
    "scenarios",
)
SENSITIVITY = ("sobol", "morris", "fast")
KEYS = (
    "type",
    "parameters",
    "samples",
    "seed",
    "workers",
    "return_columns",
    "initial_time",
    "final_time",
    "time_step",
    "saveper",
    "metrics",
    "objective",
    "scenarios",
    "options",
    "vectorise",
)
TIME_KEYS = ("initial_time", "final_time", "time_step", "saveper")
MAX_DEFAULT_METRICS = 10
VECTORISE = ("auto", "on", "off")  # not part of `normalized`: results do not depend on it


@dataclass
class Experiment:
    type: str
    params: list[ParamSpec]
    samples: int
    seed: int
    workers: int | None
    time_kwargs: dict[str, float]
    return_columns: list[str] | None
    metrics: list[Metric]
    objective: Metric | None = None
    goal: str = "min"
    scenarios: list[tuple[str, list[ParamSpec]]] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    vectorise: str = "auto"
    normalized: dict[str, Any] = field(default_factory=dict)


def _int(key: str, v: Any, minimum: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not float(v).is_integer() or v < minimum:
        raise InvalidExperimentError(f"experiment.{key} must be an integer >= {minimum}, got {v!r}")
    return int(v)


def _num(key: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        raise InvalidExperimentError(f"experiment.{key} must be a finite number, got {v!r}")
    return float(v)


def resolve_column(resolver: NameResolver, name: Any, what: str = "variable") -> str:
    """A variable name (model or Python name, optional ``[subscripts]``) → its output column name."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidExperimentError(f"{what} names must be non-empty strings, got {name!r}")
    m = re.fullmatch(r"\s*(.*?)\s*(\[[^\]]*\])?\s*", name)
    base, subs = (m.group(1), m.group(2) or "") if m else (name, "")
    real = resolver.real_name(resolver.py_name(base, what))
    return real + subs


def _metric(resolver: NameResolver, spec: Any, where: str) -> Metric:
    if not isinstance(spec, Mapping) or "variable" not in spec:
        raise InvalidExperimentError(f"{where} must be {{variable, stat}}, got {spec!r}")
    stat = spec.get("stat", "final")
    if stat not in STATS:
        raise InvalidExperimentError(f"{where}: unknown stat {stat!r}; use one of {', '.join(STATS)}")
    return Metric(resolve_column(resolver, spec["variable"]), stat)


def _default_metrics(resolver: NameResolver, return_columns: list[str] | None) -> list[Metric]:
    if return_columns:
        names = return_columns
    else:
        names = [resolver.real_name(py) for py, (t, s) in resolver.types.items() if t == "Stateful" and s == "Integ"]
    return [Metric(n, "final") for n in names[:MAX_DEFAULT_METRICS]]


def normalize(resolver: NameResolver, experiment: Any) -> Experiment:
    if not isinstance(experiment, Mapping):
        raise InvalidExperimentError(f"experiment must be an object, got {type(experiment).__name__}")
    kind = experiment.get("type")
    if kind not in TYPES:
        raise UnsupportedExperimentError(
            f"unsupported experiment type {kind!r}; supported types: {', '.join(TYPES)}"
        )
    unknown = sorted(set(experiment) - set(KEYS))
    if unknown:
        raise InvalidExperimentError(
            f"unknown experiment field(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(KEYS)}"
        )
    params = parse_params(resolver, experiment.get("parameters"))
    samples = _int("samples", experiment.get("samples", DEFAULT_SAMPLES.get(kind, 1)), 1)
    seed = _int("seed", experiment.get("seed", 0), 0)
    workers = experiment.get("workers")
    workers = None if workers is None else _int("workers", workers, 1)
    time_kwargs = {k: _num(k, experiment[k]) for k in TIME_KEYS if experiment.get(k) is not None}
    for k in ("time_step", "saveper"):
        if k in time_kwargs and time_kwargs[k] <= 0:
            raise InvalidExperimentError(f"experiment.{k} must be > 0")
    t0, t1 = time_kwargs.get("initial_time"), time_kwargs.get("final_time")
    if t0 is not None and t1 is not None and t1 < t0:
        raise InvalidExperimentError(f"experiment.final_time {t1} < initial_time {t0}")

    rc = experiment.get("return_columns")
    return_columns = None
    if rc is not None:
        if not isinstance(rc, list) or not rc:
            raise InvalidExperimentError("experiment.return_columns must be a non-empty list of variable names")
        return_columns = list(dict.fromkeys(resolve_column(resolver, c) for c in rc))

    raw_metrics = experiment.get("metrics")
    if raw_metrics is not None and not isinstance(raw_metrics, list):
        raise InvalidExperimentError("experiment.metrics must be a list of {variable, stat}")
    metrics = [_metric(resolver, m, f"experiment.metrics[{i}]") for i, m in enumerate(raw_metrics or [])]

    objective, goal = None, "min"
    if kind == "optimization":
        obj = experiment.get("objective")
        if obj is None:
            raise InvalidExperimentError("an optimization needs objective: {variable, stat, goal: min|max}")
        objective = _metric(resolver, obj, "experiment.objective")
        goal = obj.get("goal", "min")
        if goal not in ("min", "max"):
            raise InvalidExperimentError(f"experiment.objective.goal must be 'min' or 'max', got {goal!r}")
        if objective not in metrics:
            metrics.insert(0, objective)
    if not metrics:
        metrics = _default_metrics(resolver, return_columns)
    metrics = list(dict.fromkeys(metrics))
    if return_columns is not None:
        for m in metrics:
            if m.variable not in return_columns:
                return_columns.append(m.variable)

    scenarios: list[tuple[str, list[ParamSpec]]] = []
    if kind == "scenarios":
        raw = experiment.get("scenarios")
        if not isinstance(raw, list) or not raw:
            raise InvalidExperimentError("a scenarios experiment needs scenarios: [{name, parameters}, ...]")
        names: set[str] = set()
        for i, sc in enumerate(raw):
            if not isinstance(sc, Mapping) or not isinstance(sc.get("name"), str) or not sc["name"]:
                raise InvalidExperimentError(f"experiment.scenarios[{i}] must be {{name, parameters}}")
            if sc["name"] in names:
                raise InvalidExperimentError(f"duplicate scenario name {sc['name']!r}")
            names.add(sc["name"])
            scenarios.append((sc["name"], parse_params(resolver, sc.get("parameters") or {})))
    elif experiment.get("scenarios") is not None:
        raise InvalidExperimentError("experiment.scenarios is only used by type 'scenarios'")

    options = experiment.get("options") or {}
    if not isinstance(options, Mapping):
        raise InvalidExperimentError("experiment.options must be an object")

    vectorise = experiment.get("vectorise", "auto")
    if vectorise not in VECTORISE:
        raise InvalidExperimentError(
            f"experiment.vectorise must be one of {', '.join(VECTORISE)}, got {vectorise!r}"
        )

    exp = Experiment(
        type=kind,
        params=params,
        samples=samples,
        seed=seed,
        workers=workers,
        time_kwargs=time_kwargs,
        return_columns=return_columns,
        metrics=metrics,
        objective=objective,
        goal=goal,
        scenarios=scenarios,
        options=dict(options),
        vectorise=str(vectorise),
    )
    exp.normalized = {
        "type": kind,
        "parameters": [p.describe() for p in params],
        "samples": samples,
        "seed": seed,
        "return_columns": return_columns,
        "time": time_kwargs,
        "metrics": [{"variable": m.variable, "stat": m.stat} for m in metrics],
        "objective": None if objective is None else {"variable": objective.variable, "stat": objective.stat, "goal": goal},
        "scenarios": [{"name": n, "parameters": [p.describe() for p in ps]} for n, ps in scenarios] or None,
        "options": dict(options) or None,
    }
    return exp


def check_format(output_format: Any) -> str:
    if output_format not in FORMATS:
        raise InvalidExperimentError(f"unsupported output_format {output_format!r}; use one of {', '.join(FORMATS)}")
    return str(output_format)


__all__ = ["TYPES", "SENSITIVITY", "Experiment", "normalize", "check_format", "resolve_column", "UnknownParameterError"]

"""Parameter names and specifications.

A parameter NAME is the model's own name ("Characteristic Time") or PySD's
Python name (``characteristic_time``), matched exactly first, then ignoring case
and the space/underscore difference. A specification is one of::

    3.5                                   fixed value
    [min, max]                            range (uniform where a distribution is needed)
    {"values": [v1, v2, ...]}             explicit list (discrete where a distribution is needed)
    {"dist": "uniform",    "min": a, "max": b}
    {"dist": "normal",     "mean": m, "std": s, "min"?: a, "max"?: b}   (truncated when bounded)
    {"dist": "lognormal",  "mu": m, "sigma": s, "min"?: a, "max"?: b}   (mu/sigma of ln X)
    {"dist": "triangular", "min": a, "mode": c, "max": b}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import InvalidParameterError, UnknownParameterError, close_matches
from .loader import CONTROL_VARS

DISTRIBUTIONS = ("normal", "uniform", "triangular", "lognormal")


def _norm(name: str) -> str:
    return " ".join(name.replace("_", " ").lower().split())


class NameResolver:
    """Maps user-facing names to (model name, python name) for one model."""

    def __init__(self, model: Any) -> None:
        self.namespace: dict[str, str] = dict(model.namespace)
        self.by_py = {py: real for real, py in self.namespace.items()}
        self.types = {
            rec["Py Name"]: (rec.get("Type"), rec.get("Subtype")) for rec in model.doc.to_dict(orient="records")
        }
        self._loose: dict[str, str] = {}
        for real, py in self.namespace.items():
            self._loose.setdefault(_norm(real), py)
            self._loose.setdefault(_norm(py), py)

    def py_name(self, name: str, what: str = "parameter") -> str:
        if name in self.namespace:
            return self.namespace[name]
        if name in self.by_py:
            return name
        hit = self._loose.get(_norm(name))
        if hit is not None:
            return hit
        options = close_matches(name, list(self.namespace) + list(self.by_py))
        hint = f"; did you mean {', '.join(repr(o) for o in options)}?" if options else ""
        raise UnknownParameterError(f"unknown {what} {name!r}: the model has no variable of that name{hint}")

    def real_name(self, py: str) -> str:
        return self.by_py.get(py, py)

    def is_stock(self, py: str) -> bool:
        kind, sub = self.types.get(py, (None, None))
        return kind == "Stateful"


@dataclass
class ParamSpec:
    """One parsed parameter: a fixed value, a range, a list of values or a distribution."""

    name: str  # the model's own name, used as the output column name
    py_name: str
    kind: str  # fixed | range | values | dist
    value: float | None = None
    low: float | None = None
    high: float | None = None
    values: list[float] = field(default_factory=list)
    dist: str | None = None
    args: dict[str, float] = field(default_factory=dict)

    @property
    def is_control(self) -> bool:
        return self.py_name in CONTROL_VARS

    @property
    def varies(self) -> bool:
        return self.kind != "fixed"

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Map uniform numbers in [0, 1] to values of this parameter."""
        u = np.asarray(u, dtype=float)
        if self.kind == "fixed":
            return np.full(u.shape, float(self.value))  # type: ignore[arg-type]
        if self.kind == "range":
            return self.low + u * (self.high - self.low)  # type: ignore[operator]
        if self.kind == "values":
            idx = np.minimum((u * len(self.values)).astype(int), len(self.values) - 1)
            return np.asarray(self.values, dtype=float)[idx]
        frozen = self._frozen()
        lo = frozen.cdf(self.args["min"]) if "min" in self.args else 0.0
        hi = frozen.cdf(self.args["max"]) if "max" in self.args else 1.0
        eps = 1e-12
        return frozen.ppf(np.clip(lo + u * (hi - lo), eps, 1 - eps))

    def _frozen(self) -> Any:
        from scipy import stats  # noqa: PLC0415  (lazy: ~0.35 s of imports a grid or single never needs)

        a = self.args
        if self.dist == "uniform":
            return stats.uniform(loc=a["min"], scale=a["max"] - a["min"])
        if self.dist == "normal":
            return stats.norm(loc=a["mean"], scale=a["std"])
        if self.dist == "lognormal":
            return stats.lognorm(s=a["sigma"], scale=math.exp(a["mu"]))
        c = (a["mode"] - a["min"]) / (a["max"] - a["min"]) if a["max"] > a["min"] else 0.5
        return stats.triang(c=c, loc=a["min"], scale=a["max"] - a["min"])

    def bounds(self) -> tuple[float, float] | None:
        """Finite bounds (for optimization), or None."""
        if self.kind == "range":
            return (float(self.low), float(self.high))  # type: ignore[arg-type]
        if self.kind == "values":
            return (min(self.values), max(self.values))
        if self.kind == "dist" and "min" in self.args and "max" in self.args:
            return (self.args["min"], self.args["max"])
        return None

    def grid(self, n: int) -> list[float]:
        if self.kind == "fixed":
            return [float(self.value)]  # type: ignore[arg-type]
        if self.kind == "values":
            return list(self.values)
        if self.kind == "range":
            return [float(v) for v in np.linspace(self.low, self.high, n)]  # type: ignore[arg-type]
        raise InvalidParameterError(
            f"parameter {self.name!r}: a distribution cannot be gridded; give [min, max] or {{values: [...]}}"
        )

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "py_name": self.py_name, "kind": self.kind}
        if self.kind == "fixed":
            out["value"] = self.value
        elif self.kind == "range":
            out["min"], out["max"] = self.low, self.high
        elif self.kind == "values":
            out["values"] = self.values
        else:
            out["dist"] = self.dist
            out.update(self.args)
        return out


def _number(name: str, v: Any, what: str = "value") -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise InvalidParameterError(f"parameter {name!r}: {what} must be a number, got {v!r}")
    f = float(v)
    if not math.isfinite(f):
        raise InvalidParameterError(f"parameter {name!r}: {what} must be finite, got {v!r}")
    return f


def _dist(name: str, spec: Mapping[str, Any]) -> tuple[str, dict[str, float]]:
    dist = str(spec.get("dist", "")).lower()
    if dist not in DISTRIBUTIONS:
        raise InvalidParameterError(
            f"parameter {name!r}: unknown distribution {spec.get('dist')!r}; use one of {', '.join(DISTRIBUTIONS)}"
        )
    aliases = {"mu": "mean", "sigma": "std", "sd": "std", "lower": "min", "upper": "max", "c": "mode"}
    args: dict[str, float] = {}
    for key, v in spec.items():
        if key == "dist":
            continue
        k = key if dist == "lognormal" and key in ("mu", "sigma") else aliases.get(key, key)
        if dist == "lognormal" and key in ("mean", "std"):
            k = {"mean": "mu", "std": "sigma"}[key]
        args[k] = _number(name, v, key)
    required = {
        "uniform": ("min", "max"),
        "normal": ("mean", "std"),
        "lognormal": ("mu", "sigma"),
        "triangular": ("min", "mode", "max"),
    }[dist]
    allowed = set(required) | {"min", "max"}
    missing = [k for k in required if k not in args]
    extra = sorted(set(args) - allowed)
    if missing or extra:
        detail = f"missing {', '.join(missing)}" if missing else f"unexpected {', '.join(extra)}"
        raise InvalidParameterError(
            f"parameter {name!r}: {dist} distribution needs {', '.join(required)} ({detail})"
        )
    if "min" in args and "max" in args and args["min"] > args["max"]:
        raise InvalidParameterError(f"parameter {name!r}: min {args['min']} > max {args['max']}")
    if dist in ("normal", "lognormal") and args["std" if dist == "normal" else "sigma"] <= 0:
        raise InvalidParameterError(f"parameter {name!r}: the {dist} spread must be > 0")
    if dist == "triangular" and not args["min"] <= args["mode"] <= args["max"]:
        raise InvalidParameterError(f"parameter {name!r}: triangular needs min <= mode <= max")
    return dist, args


def parse_param(resolver: NameResolver, name: str, spec: Any) -> ParamSpec:
    if not isinstance(name, str) or not name:
        raise InvalidParameterError(f"parameter names must be non-empty strings, got {name!r}")
    py = resolver.py_name(name)
    if resolver.is_stock(py):
        raise InvalidParameterError(
            f"parameter {name!r} is a stock (or another stateful element); vary the constants "
            "that set its initial value instead"
        )
    real = resolver.real_name(py)
    if isinstance(spec, (list, tuple)):
        if len(spec) != 2:
            raise InvalidParameterError(
                f"parameter {name!r}: a range is [min, max] (2 numbers); use {{values: [...]}} for a list"
            )
        lo, hi = _number(name, spec[0], "min"), _number(name, spec[1], "max")
        if lo > hi:
            raise InvalidParameterError(f"parameter {name!r}: range min {lo} > max {hi}")
        return ParamSpec(real, py, "range", low=lo, high=hi)
    if isinstance(spec, Mapping):
        if "values" in spec:
            if set(spec) != {"values"}:
                raise InvalidParameterError(f"parameter {name!r}: {{values: [...]}} takes no other keys")
            vals = spec["values"]
            if not isinstance(vals, (list, tuple)) or not vals:
                raise InvalidParameterError(f"parameter {name!r}: values must be a non-empty list of numbers")
            return ParamSpec(real, py, "values", values=[_number(name, v) for v in vals])
        if "dist" in spec:
            dist, args = _dist(name, spec)
            return ParamSpec(real, py, "dist", dist=dist, args=args)
        if set(spec) == {"value"}:
            return ParamSpec(real, py, "fixed", value=_number(name, spec["value"]))
        raise InvalidParameterError(
            f"parameter {name!r}: expected a number, [min, max], {{values: [...]}} or {{dist: ...}}, got {spec!r}"
        )
    return ParamSpec(real, py, "fixed", value=_number(name, spec))


def parse_params(resolver: NameResolver, params: Mapping[str, Any] | None) -> list[ParamSpec]:
    if params is None:
        return []
    if not isinstance(params, Mapping):
        raise InvalidParameterError(f"parameters must be an object of NAME: spec, got {type(params).__name__}")
    out: list[ParamSpec] = []
    seen: dict[str, str] = {}
    for name, spec in params.items():
        p = parse_param(resolver, name, spec)
        if p.py_name in seen:
            raise InvalidParameterError(f"parameters {seen[p.py_name]!r} and {name!r} name the same variable")
        seen[p.py_name] = name
        out.append(p)
    return out

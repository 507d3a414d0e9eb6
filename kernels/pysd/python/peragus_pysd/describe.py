"""What a loaded model contains: variables by kind, constants with units/limits/docs, time settings."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from .loader import CONTROL_VARS, LoadedModel

SKIP = {"time", *CONTROL_VARS}
MAX_INLINE_VALUES = 50


def _clean(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _limits(raw: Any) -> list[float | None] | None:
    if not isinstance(raw, tuple) or len(raw) != 2:
        return None
    lo, hi = (_clean(float(v)) if v is not None else None for v in raw)
    if lo is None and hi is None:
        return None
    return [lo, hi]


def value_of(model: Any, py_name: str) -> Any:
    """Current value of a component: a float, or a small dict for subscripted values."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            v = getattr(model.components, py_name)()
        except Exception:  # noqa: BLE001 - lookups need arguments, data needs time
            return None
    if hasattr(v, "dims") and hasattr(v, "values"):
        arr = np.asarray(v.values, dtype=float)
        out: dict[str, Any] = {"dims": list(v.dims), "shape": list(arr.shape)}
        if arr.size <= MAX_INLINE_VALUES:
            out["values"] = arr.tolist()
            out["coords"] = {d: [str(c) for c in v.coords[d].values] for d in v.dims}
        else:
            out["min"], out["max"] = float(np.nanmin(arr)), float(np.nanmax(arr))
        return out
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def doc_rows(model: Any) -> list[dict[str, Any]]:
    """PySD's documentation table as JSON-able rows (one per model element)."""
    rows = []
    for rec in model.doc.to_dict(orient="records"):
        rows.append(
            {
                "name": rec.get("Real Name"),
                "py_name": rec.get("Py Name"),
                "subscripts": _clean(rec.get("Subscripts")),
                "units": _clean(rec.get("Units")),
                "limits": _limits(rec.get("Limits")),
                "type": _clean(rec.get("Type")),
                "subtype": _clean(rec.get("Subtype")),
                "doc": _clean(rec.get("Comment")),
            }
        )
    return rows


def flows_of(model: Any) -> dict[str, list[str]]:
    """py_name of each variable in a stock's INTEG rate → py_names of the stocks it feeds."""
    deps = model.dependencies
    ns_values = set(model.namespace.values())
    stock_of: dict[str, str] = {}
    for var, d in deps.items():
        if isinstance(d, dict):
            for key in d:
                if key.startswith("_integ_"):
                    stock_of[key] = var
    flows: dict[str, list[str]] = {}
    for key, stock in stock_of.items():
        step = deps.get(key, {}).get("step", {}) if isinstance(deps.get(key), dict) else {}
        for f in step:
            if f in ns_values and stock not in flows.get(f, []):
                flows.setdefault(f, []).append(stock)
    return flows


def summarize(loaded: LoadedModel) -> dict[str, Any]:
    """The JSON summary returned by ``load_model``."""
    model = loaded.model
    rows = doc_rows(model)
    _loaded_time_units(loaded, rows)
    flows = flows_of(model)
    stocks, flow_list, auxes, constants, lookups, data = [], [], [], [], [], []
    for row in rows:
        py = row["py_name"]
        if py in SKIP:
            continue
        entry = {k: row[k] for k in ("name", "py_name", "units", "limits", "subscripts", "doc")}
        kind, sub = row["type"], row["subtype"]
        if kind == "Stateful" and sub == "Integ":
            entry["initial_value"] = value_of(model, py)
            stocks.append(entry)
        elif kind == "Constant":
            entry["value"] = value_of(model, py)
            constants.append(entry)
        elif py in flows and kind != "Stateful":
            entry["stocks"] = [model_name(model, s) for s in flows[py]]
            flow_list.append(entry)
        elif kind == "Lookup":
            lookups.append(entry)
        elif kind == "Data":
            data.append(entry)
        else:
            entry["type"] = kind if sub in (None, "Normal") else f"{kind}/{sub}"
            auxes.append(entry)
    return {
        "model_id": loaded.model_id,
        "name": loaded.name,
        "source": str(loaded.source),
        "format": loaded.format,
        "sha256": loaded.sha256,
        "pysd_version": _pysd_version(),
        "time": time_settings(model, rows),
        "stocks": stocks,
        "flows": flow_list,
        "auxiliaries": auxes,
        "constants": constants,
        "lookups": lookups,
        "data": data,
        "subscripts": {k: [str(x) for x in v] for k, v in (model.subscripts or {}).items()},
        "counts": {
            "stocks": len(stocks),
            "flows": len(flow_list),
            "auxiliaries": len(auxes),
            "constants": len(constants),
            "lookups": len(lookups),
            "data": len(data),
        },
    }


def model_name(model: Any, py_name: str) -> str:
    for real, py in model.namespace.items():
        if py == py_name:
            return real
    return py_name


def time_settings(model: Any, rows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The control variables' values and the time unit (from ``rows``, the model's
    :func:`doc_rows`, when the caller has them: each call otherwise builds them again)."""
    return {**_control_values(model), "units": _time_units(doc_rows(model) if rows is None else rows)}


def _control_values(model: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for cv in CONTROL_VARS:
        try:
            out[cv] = float(model.components._control_vars[cv]())
        except Exception:  # noqa: BLE001 - a dynamic control var
            out[cv] = None
    return out


def _time_units(rows: list[dict[str, Any]]) -> str | None:
    units = {r["py_name"]: r["units"] for r in rows if r["py_name"] in CONTROL_VARS}
    return units.get("time_step") or units.get("final_time")


def run_time_settings(loaded: LoadedModel, model: Any) -> dict[str, Any]:
    """:func:`time_settings` of ``model``, an instance of ``loaded``'s translated file, with the
    time unit read once per loaded model: documentation is the file's, the same in every
    instance, and reading it builds PySD's documentation table each time (≈ 3 ms of a run)."""
    return {**_control_values(model), "units": _loaded_time_units(loaded)}


def _loaded_time_units(loaded: LoadedModel, rows: list[dict[str, Any]] | None = None) -> str | None:
    """The loaded model's time unit, read once (from ``rows``, its :func:`doc_rows`, when given)."""
    if "time_units" not in loaded.info:
        loaded.info["time_units"] = _time_units(doc_rows(loaded.model) if rows is None else rows)
    return loaded.info["time_units"]


def _pysd_version() -> str:
    import pysd  # noqa: PLC0415

    return pysd.__version__

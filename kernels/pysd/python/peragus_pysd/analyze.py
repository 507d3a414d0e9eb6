"""``analyze_model``: documentation, stock/flow structure, dependency graph, parameters, units check.

Limits, stated in the result: PySD keeps units as strings and does no unit
algebra, so the units check only compares unit strings (a flow against its
stock per time unit), reports missing units, and checks current constant values
against their declared limits.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from .describe import SKIP, doc_rows, flows_of, model_name, time_settings, value_of
from .loader import LoadedModel


def _integ_signs(py_file: str) -> dict[str, dict[str, str]]:
    """stock py_name → {flow py_name: "in" | "out" | "mixed"} from the translated INTEG rates."""
    try:
        tree = ast.parse(Path(py_file).read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return {}
    out: dict[str, dict[str, str]] = {}

    def walk(node: ast.AST, sign: int | None, acc: dict[str, str]) -> None:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.args:
            name = node.func.id
            label = "mixed" if sign is None else ("in" if sign > 0 else "out")
            acc[name] = label if acc.get(name, label) == label else "mixed"
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            walk(node.operand, None if sign is None else -sign, acc)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            walk(node.left, sign, acc)
            walk(node.right, None if sign is None else (sign if isinstance(node.op, ast.Add) else -sign), acc)
        else:
            for child in ast.iter_child_nodes(node):
                walk(child, None, acc)

    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        target = node.targets[0].id
        call = node.value
        if not (target.startswith("_integ_") and isinstance(call, ast.Call) and call.args):
            continue
        rate = call.args[0]
        if isinstance(rate, ast.Lambda):
            acc: dict[str, str] = {}
            walk(rate.body, 1, acc)
            out[target[len("_integ_") :]] = acc
    return out


def _graph(model: Any) -> dict[str, Any]:
    deps = model.dependencies
    owner: dict[str, str] = {}
    for var, d in deps.items():
        if isinstance(d, dict):
            for key in d:
                if key.startswith("_") and key in deps:
                    owner.setdefault(key, var)
    names = dict(model.namespace)
    real = {py: r for r, py in names.items()}
    edges: set[tuple[str, str, str]] = set()

    def add(src: str, dst: str, kind: str) -> None:
        src = owner.get(src, src)
        if src in ("time", "__lookup__", "__data__") or src == dst or src not in real:
            return
        edges.add((real[src], real.get(dst, dst), kind))

    for var, d in deps.items():
        if var.startswith("_") or var not in real or not isinstance(d, dict):
            continue
        for key in d:
            if key in deps and key.startswith("_") and isinstance(deps[key], dict):
                for phase in ("initial", "step"):
                    for src in (deps[key].get(phase) or {}):
                        add(src, var, phase)
            else:
                add(key, var, "uses")
    nodes = sorted({e[0] for e in edges} | {e[1] for e in edges})
    return {
        "nodes": nodes,
        "edges": [{"from": a, "to": b, "kind": k} for a, b, k in sorted(edges)],
        "note": "edge a→b means b's equation uses a; kind 'initial' / 'step' for stateful elements",
    }


def _unit_tokens(units: str | None) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    if not units:
        return None
    text = re.sub(r"\s+", " ", units.strip().lower())
    if text in ("dmnl", "dimensionless", "1"):
        return ((), ())
    parts = text.split("/")
    num = parts[0]
    dens = parts[1:]

    def toks(s: str) -> list[str]:
        out = []
        for t in re.split(r"\*", s):
            t = t.strip().strip("()")
            if not t or t in ("1", "dmnl"):
                continue
            out.append(re.sub(r"(?<=[a-z]{3})s$", "", t))  # plural → singular ("minutes")
        return out

    return (tuple(sorted(toks(num))), tuple(sorted(t for d in dens for t in toks(d))))


def _units_check(model: Any, rows: list[dict[str, Any]], flows: dict[str, list[str]]) -> dict[str, Any]:
    by_py = {r["py_name"]: r for r in rows}
    issues: list[dict[str, Any]] = []
    time_units = time_settings(model, rows).get("units")
    for r in rows:
        if r["py_name"] in SKIP or r["type"] in ("Lookup",):
            continue
        if not r["units"]:
            issues.append({"variable": r["name"], "kind": "missing_units", "message": "no units declared"})
    tu = _unit_tokens(time_units)
    for flow, stocks in flows.items():
        f = by_py.get(flow)
        for stock in stocks:
            s = by_py.get(stock)
            if not f or not s or not f["units"] or not s["units"] or tu is None:
                continue
            fu, su = _unit_tokens(f["units"]), _unit_tokens(s["units"])
            if fu is None or su is None:
                continue
            expected = (tuple(sorted(su[0] + tu[1])), tuple(sorted(su[1] + tu[0])))
            if fu != expected:
                issues.append(
                    {
                        "variable": f["name"],
                        "kind": "stock_flow_mismatch",
                        "message": f"flow units {f['units']!r} are not stock units {s['units']!r} per {time_units!r}"
                        f" (stock {s['name']!r})",
                    }
                )
    for r in rows:
        if r["type"] != "Constant" or not r["limits"] or r["py_name"] in SKIP:
            continue
        v = value_of(model, r["py_name"])
        if not isinstance(v, float):
            continue
        lo, hi = r["limits"]
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            issues.append(
                {"variable": r["name"], "kind": "value_outside_limits", "message": f"value {v} outside {r['limits']}"}
            )
    return {
        "issues": issues,
        "checked": ["missing_units", "stock_flow_mismatch", "value_outside_limits"],
        "limits": "PySD stores units as text and does not check dimensions; this compares unit strings "
        "(flows against stock per time unit) and declared limits only",
    }


def _parameters(model: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        if r["type"] != "Constant" or r["py_name"] in SKIP:
            continue
        v = value_of(model, r["py_name"])
        entry = {"name": r["name"], "py_name": r["py_name"], "units": r["units"], "value": v, "limits": r["limits"]}
        lo, hi = (r["limits"] or [None, None])[:2]
        if lo is not None and hi is not None:
            entry["suggested_range"], entry["range_source"] = [lo, hi], "limits"
        elif isinstance(v, float):
            a, b = sorted((v * 0.5, v * 1.5)) if v != 0 else (-1.0, 1.0)
            a = max(a, lo) if lo is not None else a
            b = min(b, hi) if hi is not None else b
            entry["suggested_range"], entry["range_source"] = [a, b], "value ± 50%"
        out.append(entry)
    return out


def analyze(loaded: LoadedModel) -> dict[str, Any]:
    model = loaded.model
    rows = doc_rows(model)
    flows = flows_of(model)
    signs = _integ_signs(str(loaded.py_file))
    stocks = []
    for r in rows:
        if r["type"] == "Stateful" and r["subtype"] == "Integ":
            py = r["py_name"]
            rate = signs.get(py, {})
            feeding = [f for f, ss in flows.items() if py in ss]
            stocks.append(
                {
                    "name": r["name"],
                    "units": r["units"],
                    "inflows": [model_name(model, f) for f in feeding if rate.get(f) == "in"],
                    "outflows": [model_name(model, f) for f in feeding if rate.get(f) == "out"],
                    "other_rate_terms": [model_name(model, f) for f in feeding if rate.get(f) not in ("in", "out")],
                }
            )
    return {
        "model_id": loaded.model_id,
        "documentation": [{k: r[k] for k in ("name", "py_name", "type", "subtype", "units", "limits", "subscripts", "doc")} for r in rows],
        "structure": {
            "stocks": stocks,
            "flows": [{"name": model_name(model, f), "stocks": [model_name(model, s) for s in ss]} for f, ss in flows.items()],
        },
        "graph": _graph(model),
        "parameters": _parameters(model, rows),
        "units_check": _units_check(model, rows, flows),
        "time": time_settings(model, rows),
    }

"""Vectorised vs per-run over the SDXorg test models (run by vectorise-suite.test.ts).

argv: suite dir, JSON list of [name, model path]. For each model: load it once,
vary every numeric constant by +-10 % in an LHS of 64, run it with
vectorise "auto" and "off", and compare the runs and metrics tables. Prints one
JSON object per model: {model, status, mode, reason, detail}; status is
"equal", "differs", "load-error", "run-error" or "no-constants".
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

warnings.simplefilter("ignore")
import peragus_pysd as pp  # noqa: E402

CONTROL = {"FINAL TIME", "INITIAL TIME", "TIME STEP", "SAVEPER"}
RTOL = 1e-9


def table(summary: dict, role: str) -> tuple[list[str], np.ndarray] | None:
    path = next((a["path"] for a in summary["artifacts"] if a["role"] == role), None)
    if path is None:
        return None
    t = pq.read_table(path)
    return t.column_names, t.to_pandas().to_numpy(dtype=float)


def compare(a: dict, b: dict) -> str | None:
    for role in ("runs", "metrics"):
        ta, tb = table(a, role), table(b, role)
        if (ta is None) != (tb is None):
            return f"{role}: written in one mode only"
        if ta is None or tb is None:
            continue
        if ta[0] != tb[0] or ta[1].shape != tb[1].shape:
            return f"{role}: other columns or rows"
        x, y = ta[1], tb[1]
        scale = np.nanmax(np.abs(y), axis=0, initial=0.0)
        bad = ~np.isclose(x, y, rtol=RTOL, atol=0, equal_nan=True) & ~(np.abs(x - y) <= RTOL * scale)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            return f"{role}: {ta[0][j]} row {i}: {x[i, j]!r} vs {y[i, j]!r}"
    return None


def check(name: str, path: str) -> dict:
    row = {"model": name, "status": "", "mode": None, "reason": None, "detail": ""}
    try:
        info = pp.load_model(path, name=f"suite-{name}")
    except Exception as exc:  # noqa: BLE001
        return {**row, "status": "load-error", "detail": f"{type(exc).__name__}: {exc}"[:160]}
    params = {}
    for c in info["constants"]:
        v = c.get("value")
        if c["name"] in CONTROL or isinstance(v, bool) or not isinstance(v, (int, float)) or v == 0:
            continue
        lo, hi = sorted((0.9 * v, 1.1 * v))
        params[c["name"]] = [lo, hi]
    if not params:
        return {**row, "status": "no-constants", "detail": "no scalar numeric constant to vary"}
    exp = {"type": "lhs", "samples": 64, "seed": 4, "parameters": params}
    # "on" first: a model that cannot run vectorised says why (before running, or after its first
    # chunk) without the 64 per-run simulations that "auto" would then run.
    try:
        auto = pp.run_experiment(info["model_id"], {**exp, "vectorise": "on"}, name=f"{name}-on")
    except pp.NotVectorisableError as exc:
        reason = str(exc).removeprefix("this experiment cannot run vectorised: ")
        return {**row, "status": "fallback", "mode": "per_run", "reason": reason.removesuffix("; use vectorise 'auto' or 'off'")}
    except Exception as exc:  # noqa: BLE001
        return {**row, "status": "run-error", "detail": f"{type(exc).__name__}: {exc}"[:160]}
    try:
        per = pp.run_experiment(info["model_id"], {**exp, "vectorise": "off"}, name=f"{name}-off")
    except Exception as exc:  # noqa: BLE001
        return {**row, "status": "run-error", "detail": f"{type(exc).__name__}: {exc}"[:160]}
    row["mode"], row["reason"] = auto["mode"], auto["vectorise"].get("reason")
    if auto["failed_runs"] != per["failed_runs"]:
        return {**row, "status": "differs", "detail": f"failed runs {auto['failed_runs']} vs {per['failed_runs']}"}
    if per["failed_runs"] == per["run_count"]:
        return {**row, "status": "run-error", "detail": (per["errors"][0]["error"] if per["errors"] else "")[:160]}
    problem = compare(auto, per)
    if problem:
        return {**row, "status": "differs", "detail": problem}
    return {**row, "status": "equal", "detail": f"{len(params)} constants, {auto['rows']} rows"}


def main() -> None:
    models = json.loads(sys.argv[1])
    for name, path in models:
        print(json.dumps(check(name, path)), flush=True)


if __name__ == "__main__":
    main()

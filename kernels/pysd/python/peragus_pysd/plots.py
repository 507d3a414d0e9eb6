"""``visualize``: time series, fan chart, scatter and tornado plots as PNG artifacts.

Plots render with matplotlib's Agg backend into ``<work dir>/plots/`` (a results
target) or ``<out_dir>/plots/`` (a model target), plus a small base64 PNG preview
(320 px wide) for tool results. Large result files are read column by column, and
at most ``max_runs`` runs are drawn or used for quantiles.
"""

from __future__ import annotations

import base64
import io
import json
import os
import warnings
from pathlib import Path
from typing import Any

import matplotlib

# Agg, unless the kernel draws inline (its figures are closed after saving, so
# they are not drawn twice).
if not os.environ.get("MPLBACKEND", "").endswith("backend_inline"):
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .errors import PeragusError  # noqa: E402
from .loader import _REGISTRY, confine, get_model, slug  # noqa: E402
from .writers import artifact  # noqa: E402

KINDS = ("timeseries", "fan", "scatter", "tornado")
PREVIEW_WIDTH = 320
FIG_SIZE = (8.0, 4.5)
DPI = 100


def _locate(target: str) -> dict[str, Path | None]:
    p = Path(target)
    if p.is_dir():
        d = p
    elif p.is_file():
        d = p.parent
    else:
        raise PeragusError(f"visualize: {target!r} is neither a loaded model id nor a results path")
    runs = next((d / f"runs{s}" for s in (".parquet", ".csv", ".nc") if (d / f"runs{s}").exists()), None)
    metrics = next((d / f"metrics{s}" for s in (".parquet", ".csv") if (d / f"metrics{s}").exists()), None)
    summary = d / "summary.json"
    return {"dir": d, "runs": runs, "metrics": metrics, "summary": summary if summary.exists() else None}


def _read_columns(path: Path, columns: list[str], run_ids: set[int] | None = None) -> dict[str, np.ndarray]:
    """Selected columns of a results table (optionally only some runs), without loading the whole file."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq  # noqa: PLC0415

        pf = pq.ParquetFile(path)
        parts: dict[str, list[np.ndarray]] = {c: [] for c in columns}
        for batch in pf.iter_batches(columns=columns, batch_size=65_536):
            cols = {c: batch.column(c).to_numpy(zero_copy_only=False) for c in columns}
            if run_ids is not None and "run_id" in cols:
                mask = np.isin(cols["run_id"], list(run_ids))
                cols = {c: v[mask] for c, v in cols.items()}
            for c in columns:
                parts[c].append(cols[c])
        return {c: np.concatenate(v) if v else np.array([]) for c, v in parts.items()}
    if path.suffix == ".csv":
        import pyarrow.csv as pcsv  # noqa: PLC0415

        table = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(include_columns=columns))
        cols = {c: table.column(c).to_numpy() for c in columns}
    else:
        import netCDF4  # noqa: PLC0415

        with netCDF4.Dataset(path) as ds:
            by_long = {getattr(v, "long_name", k): k for k, v in ds.variables.items()}
            cols = {c: np.asarray(ds.variables[by_long[c]][:]) for c in columns}
    if run_ids is not None and "run_id" in cols:
        mask = np.isin(cols["run_id"], list(run_ids))
        cols = {c: v[mask] for c, v in cols.items()}
    return cols


def _png(fig: Any, path: Path) -> dict[str, Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=PREVIEW_WIDTH / FIG_SIZE[0], metadata={"Software": None})
    plt.close(fig)
    data = buf.getvalue()
    return {
        "media_type": "image/png",
        "width": PREVIEW_WIDTH,
        "height": round(FIG_SIZE[1] * PREVIEW_WIDTH / FIG_SIZE[0]),
        "base64": base64.b64encode(data).decode("ascii"),
    }


def _pick(available: list[str], wanted: Any, default: list[str], what: str) -> list[str]:
    if wanted is None:
        return default
    names = [wanted] if isinstance(wanted, str) else list(wanted)
    missing = [n for n in names if n not in available]
    if missing:
        raise PeragusError(f"visualize: unknown {what} {missing}; available: {available[:30]}")
    return names


def _model_timeseries(model_id: str, variables: Any, out_dir: Path, params: dict[str, Any] | None) -> dict[str, Any]:
    from .experiment import run as run_exp  # noqa: PLC0415

    loaded = get_model(model_id)
    exp: dict[str, Any] = {"type": "single", "parameters": params or {}}
    if variables:
        exp["return_columns"] = [variables] if isinstance(variables, str) else list(variables)
    summary, _ = run_exp(loaded, exp, "parquet", out_dir, None)
    return summary


def plot(target: str, kind: str = "timeseries", **opts: Any) -> dict[str, Any]:
    if kind not in KINDS:
        raise PeragusError(f"unsupported plot kind {kind!r}; use one of {', '.join(KINDS)}")
    if target in _REGISTRY:
        summary = _model_timeseries(target, opts.get("variables"), Path(opts.get("out_dir", "results")), opts.get("parameters"))
        loc = _locate(summary["work_dir"])
    else:
        loc = _locate(target)
    summary_data = json.loads(loc["summary"].read_text()) if loc["summary"] else {}
    cols = summary_data.get("columns", {})
    variables = cols.get("variables", [])
    params = cols.get("parameters", [])
    max_runs = int(opts.get("max_runs", 200 if kind == "fan" else 30))
    title = opts.get("title")
    fig, ax = plt.subplots(figsize=FIG_SIZE)
    info: dict[str, Any] = {"kind": kind, "target": target}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind in ("timeseries", "fan"):
            if loc["runs"] is None:
                raise PeragusError(f"visualize: no runs table in {loc['dir']}")
            stock_like = [m.split("(", 1)[1].rstrip(")") for m in summary_data.get("metrics", {})]
            default = [v for v in stock_like if v in variables][:1 if kind == "fan" else 4] or variables[:1]
            chosen = _pick(variables, opts.get("variables") or opts.get("variable"), default, "variable")
            run_count = int(summary_data.get("run_count", 1))
            keep = set(range(min(run_count, max_runs)))
            data = _read_columns(loc["runs"], ["run_id", "time", *chosen], keep)
            runs = np.unique(data["run_id"])
            for vi, var in enumerate(chosen if kind == "timeseries" else chosen[:1]):
                color = f"C{vi}"
                if kind == "timeseries":
                    for k, rid in enumerate(runs):
                        m = data["run_id"] == rid
                        ax.plot(data["time"][m], data[var][m], color=color, alpha=1.0 if len(runs) == 1 else 0.35,
                                lw=1.5 if len(runs) == 1 else 0.8, label=var if k == 0 else None)
                else:
                    times = np.unique(data["time"])
                    grid = np.full((len(runs), len(times)), np.nan)
                    ridx = {r: i for i, r in enumerate(runs)}
                    tidx = np.searchsorted(times, data["time"])
                    grid[[ridx[r] for r in data["run_id"]], tidx] = data[var]
                    q = np.nanpercentile(grid, [5, 25, 50, 75, 95], axis=0)
                    ax.fill_between(times, q[0], q[4], color=color, alpha=0.2, label="5–95%")
                    ax.fill_between(times, q[1], q[3], color=color, alpha=0.4, label="25–75%")
                    ax.plot(times, q[2], color=color, lw=1.5, label=f"median {var}")
            ax.set_xlabel(f"time ({summary_data.get('time', {}).get('units') or 'model time'})")
            ax.legend(loc="best", fontsize=8)
            info.update(variables=chosen, runs_plotted=int(len(runs)))
        elif kind == "scatter":
            if loc["metrics"] is None:
                raise PeragusError(f"visualize: no metrics table in {loc['dir']}")
            metric_names = list(summary_data.get("metrics", {}))
            x = _pick(params + metric_names, opts.get("x"), params[:1] or metric_names[:1], "column")[0]
            y = _pick(metric_names + params, opts.get("y"), metric_names[:1], "column")[0]
            data = _read_columns(loc["metrics"], [x, y])
            ax.scatter(data[x], data[y], s=10, alpha=0.7)
            ax.set_xlabel(x)
            ax.set_ylabel(y)
            info.update(x=x, y=y, points=int(len(data[x])))
        else:
            metric_names = list(summary_data.get("metrics", {}))
            metric = _pick(metric_names, opts.get("metric"), metric_names[:1], "metric")[0]
            sens = summary_data.get("sensitivity", {}).get("by_metric", {}).get(metric)
            if sens and "error" not in sens:
                key = "mu_star" if summary_data["sensitivity"]["method"] == "morris" else "ST"
                values = {p: v.get(key, 0.0) for p, v in sens.items()}
                label = f"{key} ({summary_data['sensitivity']['method']})"
            else:
                if loc["metrics"] is None or not params:
                    raise PeragusError("visualize: a tornado needs a sensitivity experiment or varied parameters")
                data = _read_columns(loc["metrics"], [*params, metric])
                values = {}
                for p in params:
                    xv, yv = data[p], data[metric]
                    ok = np.isfinite(xv) & np.isfinite(yv)
                    values[p] = float(np.corrcoef(xv[ok], yv[ok])[0, 1]) if ok.sum() > 2 and np.std(xv[ok]) > 0 else 0.0
                label = "correlation with the metric"
            order = sorted(values, key=lambda k: abs(values[k]))
            ax.barh(order, [values[k] for k in order], color=["C0" if values[k] >= 0 else "C3" for k in order])
            ax.set_xlabel(label)
            info.update(metric=metric, values=values, measure=label)
    ax.set_title(title or f"{kind}: {summary_data.get('model_id', '')} {summary_data.get('experiment_type', '')}".strip())
    fig.tight_layout()
    name = f"{kind}-{slug('-'.join(info.get('variables', [])) or info.get('metric', '') or info.get('y', '') or 'plot')}"
    path = loc["dir"] / "plots" / f"{name[:80]}.png"  # type: ignore[operator]
    if opts.get("path"):
        path = confine(opts["path"], ".")
        if path.suffix.lower() != ".png":
            raise PeragusError(f"visualize: path must end with .png, got {opts['path']!r}")
    preview = _png(fig, path)
    info["artifacts"] = [artifact(path, "plot")]
    info["preview"] = preview
    info["results_dir"] = str(loc["dir"])
    return info

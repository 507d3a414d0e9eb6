"""``run_experiment``: design → runs (forked workers, streamed output) → metrics, indices, summary."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import optimize, sampling, sensitivity
from .collect import Collector, aggregates
from .describe import run_time_settings
from .display import Progress, jsonable
from .loader import LoadedModel, slug
from .params import NameResolver, ParamSpec
from .runner import Engine, RunOutput, RunPlan
from .vectorised import driver as vectorised
from .validate import SENSITIVITY, Experiment, normalize
from .writers import artifact

MAX_INLINE_RUNS = 20


def _design(exp: Experiment) -> sampling.Design:
    k, p = exp.type, exp.params
    if k == "single":
        return sampling.single(p)
    if k == "sweep":
        return sampling.sweep(p, exp.samples)
    if k == "grid":
        return sampling.grid(p, exp.samples)
    if k == "monte_carlo":
        return sampling.monte_carlo(p, exp.samples, exp.seed)
    if k == "lhs":
        return sampling.lhs(p, exp.samples, exp.seed)
    if k in SENSITIVITY:
        return sampling.salib(k, p, exp.samples, exp.seed, exp.options)
    return sampling.scenarios(p, exp.scenarios)


def _defaults(model: Any, touched: list[str]) -> dict[str, Any]:
    """The model's own value (or function) of each touched parameter, to restore it in runs that leave it out."""
    out: dict[str, Any] = {}
    for py in touched:
        func = getattr(model.components, py)
        if getattr(func, "type", None) == "Constant":
            try:
                out[py] = func()
                continue
            except Exception:  # noqa: BLE001 - fall back to the function itself
                pass
        out[py] = func
    return out


def _all_params(exp: Experiment) -> list[ParamSpec]:
    """Experiment parameters, then scenario-only parameters (each once), for the table columns."""
    seen = {p.py_name for p in exp.params}
    out = list(exp.params)
    for _, ps in exp.scenarios:
        for p in ps:
            if p.py_name not in seen:
                seen.add(p.py_name)
                out.append(p)
    return out


def experiment_key(loaded: LoadedModel, exp: Experiment, output_format: str) -> str:
    blob = json.dumps([loaded.sha256, exp.normalized, output_format], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def run(
    loaded: LoadedModel,
    experiment: Any,
    output_format: str,
    out_dir: str | Path,
    name: str | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Returns (summary, timing). The summary is also written to ``summary.json``."""
    started = time.perf_counter()
    model = loaded.fresh()
    resolver = NameResolver(model)
    exp = normalize(resolver, experiment)
    key = experiment_key(loaded, exp, output_format)
    work_dir = Path(out_dir) / (slug(name) if name else f"{loaded.model_id}-{exp.type}-{key[:10]}")
    work_dir.mkdir(parents=True, exist_ok=True)

    params = _all_params(exp)
    design = None if exp.type == "optimization" else _design(exp)
    if exp.type == "optimization":
        variables = optimize.decision_variables(exp.params)
        touched = [p.py_name for p in params if not p.is_control]
    else:
        assert design is not None
        touched = sorted(k for k in sampling.run_keys(design.runs) if k not in ("initial_time", "final_time", "time_step", "saveper"))
    plan = RunPlan(
        model=model,
        return_columns=exp.return_columns,
        time_kwargs=exp.time_kwargs,
        defaults=_defaults(model, touched),
        metrics=exp.metrics,
        drop_columns={p.name for p in params},
        seed=exp.seed,
    )
    collector = Collector(output_format, work_dir, params, exp.metrics, with_labels=exp.type == "scenarios")
    total = len(design.runs) if design is not None else exp.samples
    progress = Progress(f"{exp.type} {loaded.model_id}", total)
    extra: dict[str, Any] = {}

    def emit(out: RunOutput, run_params: dict[str, float], label: str | None) -> None:
        collector.add(out, run_params, label)
        progress.step(out.error is not None)

    def emit_block(ids: list[int], res: Any, metrics: np.ndarray) -> None:
        assert design is not None
        collector.add_block(ids, [design.runs[i] for i in ids], [design.labels[i] for i in ids] if design.labels else None, res, metrics)
        progress.advance(len(ids))

    try:
        report = vectorised.run(loaded, plan, design, touched, exp.vectorise, emit, emit_block, exp.type)
        workers = 1
        if report.mode == "per_run":
            with Engine(plan, exp.workers, total) as engine:
                if design is not None:
                    tasks = list(enumerate(design.runs))
                    labels = design.labels or [None] * len(tasks)
                    for out in engine.map(iter(tasks), len(tasks)):
                        emit(out, tasks[out.run_id][1], labels[out.run_id])
                else:
                    extra["optimization"] = _optimize(exp, variables, engine, collector, progress)
                workers = engine.workers
        runs_path = collector.close()
    except BaseException:
        collector.abort()
        raise
    progress.finish()

    metric_names = [m.column for m in exp.metrics]
    y = collector.metric_array()
    artifacts = []
    if runs_path is not None:
        artifacts.append(artifact(runs_path, "runs"))
    metrics_path = collector.write_metrics(work_dir)
    if metrics_path is not None:
        artifacts.append(artifact(metrics_path, "metrics"))

    summary: dict[str, Any] = {
        "model_id": loaded.model_id,
        "model_sha256": loaded.sha256,
        "experiment_type": exp.type,
        "experiment": exp.normalized,
        "experiment_key": key,
        "seed": exp.seed,
        "work_dir": artifact_dir(work_dir),
        "output_format": output_format,
        "run_count": collector.run_count,
        "mode": report.mode,
        "vectorise": report.describe(),
        "failed_runs": collector.failed,
        "errors": collector.errors,
        "rows": collector.sink.rows if collector.sink is not None else 0,
        "columns": {
            "run_id": "run_id",
            "scenario": "scenario" if exp.type == "scenarios" else None,
            "parameters": [p.name for p in params],
            "time": "time",
            "variables": collector.columns or [],
        },
        "time": {**run_time_settings(loaded, model), **exp.time_kwargs},
        "metrics": {
            m.column: {"variable": m.variable, "stat": m.stat, **aggregates(y[:, j])} for j, m in enumerate(exp.metrics)
        },
    }
    if design is not None and design.info:
        summary["design"] = design.info
    if collector.run_count <= MAX_INLINE_RUNS:
        summary["per_run"] = _per_run(collector, params, metric_names)
    if design is not None and exp.type in SENSITIVITY:
        summary["sensitivity"] = sensitivity.analyze(exp.type, design, metric_names, y, exp.seed)
    if exp.type == "scenarios":
        summary["scenarios"] = [
            {"name": lab, "run_id": rid, "metrics": dict(zip(metric_names, row, strict=True))}
            for rid, lab, row in zip(collector.run_ids, collector.labels, y.tolist(), strict=True)
        ]
    if "optimization" in extra:
        summary["optimization"] = _best(extra["optimization"], exp, collector, params, y)
    summary = jsonable(summary)
    summary_path = work_dir / "summary.json"
    summary_path.write_text(json.dumps(summary, indent=2, sort_keys=True, allow_nan=False) + "\n")
    summary["artifacts"] = [*artifacts, artifact(summary_path, "summary")]
    elapsed = time.perf_counter() - started
    timing = {
        "elapsed_s": round(elapsed, 3),
        "runs_per_s": round(collector.run_count / elapsed, 2) if elapsed > 0 else None,
        "workers": workers,
        "mode": report.mode,
    }
    return summary, timing


def artifact_dir(path: Path) -> str:
    p = path.resolve()
    try:
        return str(p.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


def _per_run(collector: Collector, params: list[ParamSpec], metric_names: list[str]) -> list[dict[str, Any]]:
    rows = []
    for i, rid in enumerate(collector.run_ids):
        row: dict[str, Any] = {"run_id": rid}
        if collector.with_labels:
            row["scenario"] = collector.labels[i]
        row["parameters"] = {p.name: v for p, v in zip(params, collector.param_values[i], strict=True)}
        row["metrics"] = dict(zip(metric_names, collector.metric_values[i], strict=True))
        rows.append(row)
    return rows


def _optimize(exp: Experiment, variables: list[ParamSpec], engine: Engine, collector: Collector, progress: Progress) -> dict[str, Any]:
    base = {p.py_name: float(p.value) for p in exp.params if p.kind == "fixed"}  # type: ignore[arg-type]
    assert exp.objective is not None
    j = exp.metrics.index(exp.objective)
    budget = exp.samples

    def evaluate(points: list[np.ndarray]) -> list[float]:
        tasks = []
        for x in points:
            run = dict(base)
            run.update({p.py_name: float(v) for p, v in zip(variables, x, strict=True)})
            tasks.append((collector.run_count + len(tasks), {p.py_name: run[p.py_name] for p in exp.params}))
        values = []
        for out in engine.map(iter(tasks), len(tasks)):
            collector.add(out, tasks[out.run_id - tasks[0][0]][1])
            progress.total = max(progress.total, collector.run_count)
            progress.step(out.error is not None)
            values.append(out.metrics[j] if out.error is None else float("nan"))
        return values

    return optimize.run(evaluate, variables, exp.goal, budget, exp.seed, exp.options)


def _best(res: dict[str, Any], exp: Experiment, collector: Collector, params: list[ParamSpec], y: np.ndarray) -> dict[str, Any]:
    assert exp.objective is not None
    j = exp.metrics.index(exp.objective)
    col = y[:, j]
    finite = np.isfinite(col)
    best_run = None
    if finite.any():
        masked = np.where(finite, col, np.inf if exp.goal == "min" else -np.inf)
        i = int(np.argmin(masked) if exp.goal == "min" else np.argmax(masked))
        best_run = {
            "run_id": collector.run_ids[i],
            "parameters": {p.name: v for p, v in zip(params, collector.param_values[i], strict=True)},
            "value": float(col[i]),
        }
    variables = optimize.decision_variables(exp.params)
    return {
        "objective": {"variable": exp.objective.variable, "stat": exp.objective.stat, "goal": exp.goal},
        "method": res["method"],
        "success": res["success"],
        "message": res["message"],
        "best_parameters": {p.name: v for p, v in zip(variables, res["x"], strict=True)},
        "best_value": res["fun"],
        "best_run": best_run,
        "evaluations": collector.run_count,
    }

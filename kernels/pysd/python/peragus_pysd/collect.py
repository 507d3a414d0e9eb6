"""Streams run outputs into the results table and keeps the small per-run metric table.

The results table is wide in variables and long in runs and time: columns
``run_id``, ``scenario`` (scenario experiments only), one column per experiment
parameter (the model's own name), ``time``, then the model's output columns.
Output columns that duplicate a parameter column are left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .params import ParamSpec
from .runner import Metric, RunOutput
from .writers import SUFFIX, TableSink, open_sink, write_table

ROWS_PER_GROUP = 65_536
MAX_ERRORS_KEPT = 20


class Rows:
    """A growable (runs x k) float table: rows read back as lists, the whole as an array."""

    def __init__(self, k: int) -> None:
        self.k = k
        self._data = np.empty((64, k))
        self._n = 0

    def _reserve(self, extra: int) -> None:
        need = self._n + extra
        if need > len(self._data):
            grown = np.empty((max(need, 2 * len(self._data)), self.k))
            grown[: self._n] = self._data[: self._n]
            self._data = grown

    def append(self, row: list[float]) -> None:
        self._reserve(1)
        self._data[self._n] = row
        self._n += 1

    def extend(self, block: np.ndarray) -> None:
        self._reserve(len(block))
        self._data[self._n : self._n + len(block)] = block
        self._n += len(block)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> list[float]:
        if not -self._n <= i < self._n:
            raise IndexError(i)
        return self._data[i % self._n].tolist()

    def array(self) -> np.ndarray:
        return self._data[: self._n].copy()


class Collector:
    def __init__(
        self,
        fmt: str,
        work_dir: Path,
        params: list[ParamSpec],
        metrics: list[Metric],
        with_labels: bool,
        rows_per_group: int = ROWS_PER_GROUP,
    ) -> None:
        self.fmt = fmt
        self.path = work_dir / f"runs{SUFFIX[fmt]}"
        self.params = params
        self.metrics = metrics
        self.with_labels = with_labels
        self.rows_per_group = rows_per_group
        self.columns: list[str] | None = None
        self.sink: TableSink | None = None
        self._buf: list[tuple[RunOutput, dict[str, float], str | None]] = []
        self._buf_rows = 0
        self.errors: list[dict[str, Any]] = []
        self.failed = 0
        self.run_count = 0
        # the per-run metric table (small: runs x (params + metrics))
        self.run_ids: list[int] = []
        self.labels: list[str | None] = []
        self.param_values = Rows(len(params))
        self.metric_values = Rows(len(metrics))

    def _fields(self) -> list[tuple[str, str]]:
        fields = [("run_id", "int64")]
        if self.with_labels:
            fields.append(("scenario", "string"))
        fields += [(p.name, "float64") for p in self.params]
        fields.append(("time", "float64"))
        fields += [(c, "float64") for c in self.columns or []]
        return fields

    def add(self, out: RunOutput, params: dict[str, float], label: str | None = None) -> None:
        self.run_count += 1
        pvals = [float(params.get(p.py_name, np.nan)) for p in self.params]
        self.run_ids.append(out.run_id)
        self.labels.append(label)
        self.param_values.append(pvals)
        if out.error is None and self.columns is not None and out.columns != self.columns:
            out = RunOutput(run_id=out.run_id, error="output columns differ from the first run's")
        if out.error is not None:
            self.failed += 1
            if len(self.errors) < MAX_ERRORS_KEPT:
                self.errors.append({"run_id": out.run_id, "error": out.error})
            self.metric_values.append([float("nan")] * len(self.metrics))
            return
        self.metric_values.append(list(out.metrics))
        if self.columns is None:
            self.columns = list(out.columns or [])
        self._buf.append((out, params, label))
        self._buf_rows += len(out.times)  # type: ignore[arg-type]
        if self._buf_rows >= self.rows_per_group:
            self._flush()

    def add_block(
        self,
        run_ids: list[int],
        params: list[dict[str, float]],
        labels: list[str | None] | None,
        res: Any,
        metrics: np.ndarray,
    ) -> None:
        """Successful runs of one vectorised chunk (a :class:`~.vectorised.engine.ChunkResult`).

        Rows go to the same row groups as :meth:`add` would put them in (a group closes once it
        holds ``rows_per_group`` rows), so both paths write the same file.
        """
        labels = labels or [None] * len(run_ids)
        if self.columns is not None and res.columns != self.columns:
            for k, rid in enumerate(run_ids):
                self.add(RunOutput(run_id=rid, error="output columns differ from the first run's"), params[k], labels[k])
            return
        t = len(res.times)
        n = len(run_ids)
        k = 0
        while k < n and (self._buf or t == 0):
            self.add(RunOutput(run_ids[k], list(res.columns), res.times, res.run(k), metrics[k].tolist()), params[k], labels[k])
            k += 1
        group = max(1, -(-self.rows_per_group // t)) if t else 1
        while n - k >= group:
            self._record(run_ids[k : k + group], params[k : k + group], labels[k : k + group], metrics[k : k + group])
            if self.columns is None:
                self.columns = list(res.columns)
            self._write_block(run_ids[k : k + group], params[k : k + group], labels[k : k + group], res, k, k + group)
            k += group
        for j in range(k, n):
            self.add(RunOutput(run_ids[j], list(res.columns), res.times, res.run(j), metrics[j].tolist()), params[j], labels[j])

    def _record(self, run_ids: list[int], params: list[dict[str, float]], labels: list[str | None], metrics: np.ndarray) -> None:
        self.run_count += len(run_ids)
        self.run_ids.extend(run_ids)
        self.labels.extend(labels)
        self.param_values.extend(np.array([[float(pr.get(p.py_name, np.nan)) for p in self.params] for pr in params]).reshape(len(params), len(self.params)))
        self.metric_values.extend(metrics)

    def _write_block(self, run_ids: list[int], params: list[dict[str, float]], labels: list[str | None], res: Any, a: int, b: int) -> None:
        if self.sink is None:
            self.sink = open_sink(self.fmt, self.path, self._fields(), self._dictionary())
        t = len(res.times)
        cols: dict[str, Any] = {"run_id": np.repeat(np.asarray(run_ids, dtype=np.int64), t)}
        if self.with_labels:
            cols["scenario"] = [lab for lab in labels for _ in range(t)]
        for p in self.params:
            cols[p.name] = np.repeat(np.array([float(pr.get(p.py_name, np.nan)) for pr in params]), t)
        cols["time"] = np.tile(res.times, b - a)
        for j, c in enumerate(self.columns or []):
            cols[c] = res.flat(j, a, b)
        self.sink.write(cols)

    def _dictionary(self) -> list[str]:
        """Columns that repeat (ids, labels, parameters, time) are dictionary-encoded; outputs are not."""
        return ["run_id", "scenario", *[p.name for p in self.params], "time"]

    def _flush(self) -> None:
        if not self._buf:
            return
        if self.sink is None:
            self.sink = open_sink(self.fmt, self.path, self._fields(), self._dictionary())
        cols: dict[str, Any] = {}
        sizes = [len(o.times) for o, _, _ in self._buf]  # type: ignore[arg-type]
        cols["run_id"] = np.repeat(np.array([o.run_id for o, _, _ in self._buf], dtype=np.int64), sizes)
        if self.with_labels:
            cols["scenario"] = [lab for (_, _, lab), n in zip(self._buf, sizes, strict=True) for _ in range(n)]
        for p in self.params:
            vals = np.array([float(pr.get(p.py_name, np.nan)) for _, pr, _ in self._buf])
            cols[p.name] = np.repeat(vals, sizes)
        cols["time"] = np.concatenate([o.times for o, _, _ in self._buf])  # type: ignore[misc]
        block = np.concatenate([o.values for o, _, _ in self._buf], axis=0)  # type: ignore[misc]
        for j, c in enumerate(self.columns or []):
            cols[c] = block[:, j]
        self.sink.write(cols)
        self._buf.clear()
        self._buf_rows = 0

    def close(self) -> Path | None:
        self._flush()
        if self.sink is None:
            return None
        return self.sink.close()

    def abort(self) -> None:
        if self.sink is not None:
            self.sink.abort()

    def metric_array(self) -> np.ndarray:
        return self.metric_values.array()

    def write_metrics(self, work_dir: Path) -> Path | None:
        if not self.metrics and not self.params:
            return None
        fmt = "csv" if self.fmt == "csv" else "parquet"
        fields = [("run_id", "int64")]
        cols: dict[str, Any] = {"run_id": np.asarray(self.run_ids, dtype=np.int64)}
        if self.with_labels:
            fields.append(("scenario", "string"))
            cols["scenario"] = self.labels
        pv = self.param_values.array()
        for j, p in enumerate(self.params):
            fields.append((p.name, "float64"))
            cols[p.name] = pv[:, j]
        mv = self.metric_array()
        for j, m in enumerate(self.metrics):
            fields.append((m.column, "float64"))
            cols[m.column] = mv[:, j]
        return write_table(fmt, work_dir / f"metrics{SUFFIX[fmt]}", fields, cols)


def aggregates(values: np.ndarray) -> dict[str, Any]:
    v = values[np.isfinite(values)]
    if v.size == 0:
        return {"count": 0}
    p05, p50, p95 = np.percentile(v, [5, 50, 95])
    return {
        "count": int(v.size),
        "mean": float(v.mean()),
        "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
        "min": float(v.min()),
        "p05": float(p05),
        "p50": float(p50),
        "p95": float(p95),
        "max": float(v.max()),
    }

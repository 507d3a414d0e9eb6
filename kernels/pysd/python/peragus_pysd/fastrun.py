"""A leaner ``Model.run`` for many runs: same integration, cheaper output collection.

PySD's ``run`` spends about half its time collecting outputs: a rounded time
per saved step and a pandas DataFrame per run. Here the integration is PySD's
own (``_config_simulation`` + ``_integrate``), but the output handler keeps
bound component functions and raw times, rounds times once per run (the same
``np.round`` PySD applies per step) and returns numpy arrays. Subscripted
outputs fall back to PySD's own flattening, so columns and values are those of
``Model.run(flatten_output=True)``. Verified against ``Model.run`` in the tests.

This uses PySD internals of the pinned version (3.14.x); :func:`run_arrays`
falls back to ``Model.run`` when they are missing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

try:
    from pysd.py_backend.output import DataFrameHandler, ModelOutput
except ImportError:  # pragma: no cover - other PySD layouts
    DataFrameHandler = ModelOutput = None  # type: ignore[assignment,misc]


class _ArrayHandler:
    """PySD output handler interface (initialize/update/add_run_elements/postprocess)."""

    capture_elements_step: list[str]
    capture_elements_run: list[str]

    def initialize(self, model: Any) -> None:
        self.funcs = [getattr(model.components, k) for k in self.capture_elements_step]
        self.times: list[float] = []
        self.rows: list[list[Any]] = []
        time = model.time
        self.time = time
        self.fixed_decimals = (
            -int(np.log10(time.time_step() * time.rprec)) if model.cache_type.get("time_step") == "run" else None
        )
        self.decimals: list[int] = []

    def update(self, model: Any) -> None:
        t = self.time._time
        self.times.append(t)
        if self.fixed_decimals is None:
            self.decimals.append(-int(np.log10(self.time.time_step() * self.time.rprec)))
        self.rows.append([f() for f in self.funcs])

    def add_run_elements(self, model: Any) -> None:
        self.run_values = {k: getattr(model.components, k)() for k in self.capture_elements_run}

    def postprocess(self, **kwargs: Any) -> tuple[np.ndarray, list[str], np.ndarray]:
        raw = np.asarray(self.times, dtype=np.float64)
        if self.fixed_decimals is not None:
            times = np.round(raw, self.fixed_decimals)
        else:
            times = np.array([np.round(t, d) for t, d in zip(raw, self.decimals, strict=True)])
        n = len(raw)
        index = {k: i for i, k in enumerate(self.capture_elements_step)}
        addresses = kwargs["return_addresses"]
        def sample(py: str) -> Any:
            if py in self.run_values:
                return self.run_values[py]
            return self.rows[0][index[py]] if n else 0.0

        scalar = all(not addr and _is_scalar(sample(py)) for py, addr in addresses.values())
        if scalar:
            columns = list(addresses)
            values = np.empty((n, len(columns)), dtype=np.float64)
            try:
                block = np.array(self.rows, dtype=np.float64).reshape(n, len(self.capture_elements_step))
            except (TypeError, ValueError):
                block = None
            for j, (py, _) in enumerate(addresses.values()):
                if block is not None and py not in self.run_values:
                    values[:, j] = block[:, index[py]]
                    continue
                if py in self.run_values:
                    values[:, j] = float(np.asarray(self.run_values[py]).squeeze())
                else:
                    i = index[py]
                    values[:, j] = [float(np.asarray(r[i]).squeeze()) for r in self.rows]
            return times, columns, values
        # Subscripted outputs: PySD's own flattening from the same data.
        data: dict[str, list[Any]] = {k: [r[i] for r in self.rows] for k, i in index.items()}
        for k, v in self.run_values.items():
            data[k] = [v] * n
        df = pd.DataFrame(index=pd.Index(times, name="time"), data=data) if data else pd.DataFrame(index=times)
        flat = DataFrameHandler.make_flat_df(df, addresses, True)
        return times, [str(c) for c in flat.columns], flat.to_numpy(dtype=np.float64)


def _is_scalar(v: Any) -> bool:
    if isinstance(v, (int, float, np.floating, np.integer)):
        return True
    size = getattr(v, "size", None)
    return size == 1


def run_arrays(model: Any, **kwargs: Any) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Like ``model.run(**kwargs, flatten_output=True)`` but returns (times, columns, values)."""
    if ModelOutput is None or not hasattr(model, "_config_simulation"):  # pragma: no cover
        df = model.run(flatten_output=True, **kwargs)
        return df.index.to_numpy(dtype=np.float64), [str(c) for c in df.columns], df.to_numpy(dtype=np.float64)
    model._stepper_mode = False
    model._config_simulation(
        kwargs.get("params"),
        kwargs.get("return_columns"),
        None,
        kwargs.get("initial_condition", "original"),
        kwargs.get("final_time"),
        kwargs.get("time_step"),
        kwargs.get("saveper"),
        True,
        progress=False,
    )
    return integrate_with(model, _ArrayHandler())


def integrate_with(model: Any, handler: Any) -> Any:
    """PySD's own integration of a configured model, collecting outputs through ``handler``."""
    output = ModelOutput(None)
    output.handler = handler
    output.set_capture_elements(model.capture_elements)
    output.initialize(model)
    model.output = output
    model._integrate()
    del model._dependencies["OUTPUTS"]
    output.add_run_elements(model)
    model._remove_constant_cache()
    return output.postprocess(return_addresses=model.return_addresses, flatten=True)

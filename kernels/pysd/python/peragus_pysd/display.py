"""Results of the public functions: plain dicts that also show themselves in a notebook.

Each public function returns a :class:`Result` (a ``dict`` subclass). When the
call runs inside an IPython kernel the result is displayed once as a
``display_data`` output with two representations:

* ``application/vnd.peragus.result+json`` — ``{"peragus": 1, "function": NAME,
  "result": {...}}``: the full JSON result; this is what the TypeScript side
  parses (:data:`RESULT_MIME`).
* ``text/plain`` — a one-line human summary.

Values are made JSON-safe first (NaN/±inf → ``None``, numpy scalars → Python).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

RESULT_MIME = "application/vnd.peragus.result+json"
RESULT_VERSION = 1


def jsonable(value: Any) -> Any:
    """A copy of ``value`` that ``json.dumps(..., allow_nan=False)`` accepts."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _ipython_shell() -> Any:
    try:
        from IPython import get_ipython  # noqa: PLC0415
    except ImportError:  # pragma: no cover - IPython ships with ipykernel
        return None
    shell = get_ipython()
    # Only a kernel (ZMQ) shell has a front end that can render our mime type.
    if shell is None or not hasattr(shell, "kernel"):
        return None
    return shell


class Result(dict):
    """A JSON-able dict that renders itself once per notebook execution."""

    def __init__(self, function: str, data: Mapping[str, Any], summary: str) -> None:
        super().__init__(jsonable(data))
        self._function = function
        self._summary = summary
        self._shown_in: int | None = None

    def mimebundle(self) -> dict[str, Any]:
        return {
            RESULT_MIME: {"peragus": RESULT_VERSION, "function": self._function, "result": dict(self)},
            "text/plain": self._summary,
        }

    def show(self) -> None:
        shell = _ipython_shell()
        if shell is None:
            return
        from IPython.display import display  # noqa: PLC0415

        display(self.mimebundle(), raw=True)
        self._shown_in = getattr(shell, "execution_count", None)

    def _ipython_display_(self) -> None:
        # The function already displayed the result in this execution; do not
        # repeat it as the cell's value. Displaying it in a later cell works.
        shell = _ipython_shell()
        if shell is not None and self._shown_in == getattr(shell, "execution_count", None):
            return
        if shell is None:
            print(self._summary)
            return
        self.show()


def emit(function: str, data: Mapping[str, Any], summary: str) -> Result:
    """Build the result, display it when running in a kernel, and return it."""
    result = Result(function, data, summary)
    result.show()
    return result


PROGRESS_MIME = "application/vnd.peragus.progress+json"


class Progress:
    """A single, updated-in-place progress output (``update_display_data``) while runs complete.

    Mime ``application/vnd.peragus.progress+json``: ``{"done", "total", "failed"}``.
    Silent outside a kernel. Updates at most every ``interval`` seconds.
    """

    def __init__(self, label: str, total: int, interval: float = 0.5) -> None:
        import time  # noqa: PLC0415

        self._clock = time.monotonic
        self.label, self.total, self.interval = label, total, interval
        self.done = self.failed = 0
        self._last = 0.0
        self._handle: Any = None
        if _ipython_shell() is not None and total > 1:
            from IPython.display import display  # noqa: PLC0415

            self._handle = display(self._bundle(), raw=True, display_id=True)

    def _bundle(self) -> dict[str, Any]:
        return {
            PROGRESS_MIME: {"label": self.label, "done": self.done, "total": self.total, "failed": self.failed},
            "text/plain": f"{self.label}: {self.done}/{self.total} runs" + (f", {self.failed} failed" if self.failed else ""),
        }

    def step(self, failed: bool = False) -> None:
        self.advance(1, int(failed))

    def advance(self, done: int, failed: int = 0) -> None:
        self.done += done
        self.failed += failed
        if self._handle is None:
            return
        now = self._clock()
        if now - self._last >= self.interval or self.done == self.total:
            self._last = now
            self._handle.update(self._bundle(), raw=True)

    def finish(self) -> None:
        if self._handle is not None:
            self._handle.update(self._bundle(), raw=True)

"""PySD imported without two dependencies it binds at import but uses only in rare models.

``pysd.py_backend.external`` binds openpyxl's ``load_workbook`` (≈ 0.1 s of imports) for
models that read Excel cells by name, and ``pysd.py_backend.allocation`` binds scipy's
``least_squares`` (≈ 0.23 s: scipy.optimize and scipy.linalg) for ``ALLOCATE AVAILABLE``.
Every kernel imports the first, and every translation the second (PySD's builder reads
allocation's names). :func:`import_pysd` imports both PySD modules while a stand-in for each
of those two names is in ``sys.modules``, then removes the stand-ins, so any later import of
openpyxl or scipy.optimize gets the real package.

Each stand-in is a function that, on its first call, imports the real package, rebinds the
PySD module's globals to the real objects (``InvalidFileException`` too, before PySD's
``except`` clauses can look it up) and calls through. The PySD modules keep the same names
(``pysd.builders.python.namespace`` reserves them), so a translation is byte-identical.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_EXTERNAL = "pysd.py_backend.external"
_ALLOCATION = "pysd.py_backend.allocation"


class _DeferredInvalidFileException(Exception):
    """Bound in PySD until the first workbook is opened, which rebinds the real class."""


def _rebind(module: str, name: str, stand_in: object, real: object) -> None:
    mod = sys.modules.get(module)
    if mod is not None and getattr(mod, name, None) is stand_in:
        setattr(mod, name, real)


def _load_workbook(*args: Any, **kwargs: Any) -> Any:
    from openpyxl import load_workbook  # noqa: PLC0415 - the real package, on first use
    from openpyxl.utils.exceptions import InvalidFileException  # noqa: PLC0415

    _rebind(_EXTERNAL, "InvalidFileException", _DeferredInvalidFileException, InvalidFileException)
    _rebind(_EXTERNAL, "load_workbook", _load_workbook, load_workbook)
    return load_workbook(*args, **kwargs)


def _least_squares(*args: Any, **kwargs: Any) -> Any:
    from scipy.optimize import least_squares  # noqa: PLC0415 - the real package, on first use

    _rebind(_ALLOCATION, "least_squares", _least_squares, least_squares)
    return least_squares(*args, **kwargs)


def _module(name: str, **attrs: object) -> types.ModuleType:
    mod = types.ModuleType(name, f"Peragus's stand-in while PySD is imported ({__name__})")
    for key, value in attrs.items():
        setattr(mod, key, value)
    return mod


# By the module whose import they stand in for: a group is placed only while that is not imported.
_STAND_INS: dict[str, Callable[[], dict[str, types.ModuleType]]] = {
    "openpyxl": lambda: {
        "openpyxl": _module("openpyxl", load_workbook=_load_workbook),
        "openpyxl.utils.exceptions": _module(
            "openpyxl.utils.exceptions", InvalidFileException=_DeferredInvalidFileException
        ),
    },
    "scipy.optimize": lambda: {"scipy.optimize": _module("scipy.optimize", least_squares=_least_squares)},
}


@contextmanager
def standing_in(placed: dict[str, types.ModuleType]) -> Iterator[None]:
    """Puts ``placed`` in ``sys.modules`` for the block, then takes out each one still there, so
    a later import of that name gets the real package (the caller places only names not imported)."""
    sys.modules.update(placed)
    try:
        yield
    finally:
        for name, stand_in in placed.items():
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]


def import_pysd() -> None:
    """Imports pysd (and allocation) with the stand-ins; a no-op once pysd is imported."""
    if "pysd" in sys.modules:
        return
    # A package already imported (by whoever imported it first) is used as it is.
    placed: dict[str, types.ModuleType] = {}
    for real, make in _STAND_INS.items():
        if real not in sys.modules:
            placed.update(make())
    with standing_in(placed):
        import pysd  # noqa: F401, PLC0415
        import pysd.py_backend.allocation  # noqa: F401, PLC0415

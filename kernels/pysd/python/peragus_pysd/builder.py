"""PySD's Python builder without black: a translation's module as PySD builds it, unformatted.

PySD's builder passes every translated module through ``black.format_file_contents`` (fast
mode: no equivalence check, so formatting is all it does). That is most of a translation's
time: ≈ 0.9 of 1.2 s for a 46 KB Vensim model, and black's own imports (≈ 0.06 s) sit on a
plan's start. The translated module is ours to cache and load, never read by a person, and
black changes only its layout, so a Peragus translation leaves it as the builder wrote it:
the same code, the same simulation, byte-identical results.

:func:`import_unformatted_builder` imports the builder module while a pass-through stands in
for ``black`` in ``sys.modules`` (unless black is already imported), removes the stand-in, and
binds the builder's ``black`` to the pass-through. A later ``import black`` anywhere gets the
real package. Peragus calls it before each of its own translations (``loader``, the zygote's
check warm-up); a cell that calls ``pysd.read_vensim`` itself in a kernel that has not
translated through Peragus gets PySD's own, formatted output.
"""

from __future__ import annotations

import importlib
import sys
import types

from .deferred import standing_in

_BUILDER = "pysd.builders.python.python_model_builder"


class _FileMode:
    """Stands in for ``black.FileMode``: the builder makes one per module and passes it on."""

    def __init__(self, *_args: object, **_kwargs: object) -> None:
        pass


def _format_file_contents(src_contents: str, *, fast: bool = True, mode: object = None) -> str:  # noqa: ARG001 - black's signature
    """The module text as the builder wrote it."""
    return src_contents


def _real(name: str) -> object:
    """Any other name the builder may call (another PySD release): black's own, imported then."""
    if name.startswith("__") or sys.modules.get("black") is BLACK:
        # Dunders are the import system's questions; while the stand-in is black, nothing to ask.
        raise AttributeError(f"black.{name} is not in Peragus's stand-in for black ({__name__})")
    return getattr(importlib.import_module("black"), name)


BLACK = types.ModuleType("black", f"Peragus's pass-through for black in PySD's builder ({__name__})")
BLACK.FileMode = _FileMode  # type: ignore[attr-defined]
BLACK.format_file_contents = _format_file_contents  # type: ignore[attr-defined]
BLACK.__getattr__ = _real  # type: ignore[attr-defined]  (PEP 562: names the stand-in lacks)


def import_unformatted_builder() -> types.ModuleType:
    """PySD's builder module, its ``black`` bound to the pass-through (idempotent)."""
    builder = sys.modules.get(_BUILDER)
    if builder is None:
        with standing_in({} if "black" in sys.modules else {"black": BLACK}):
            builder = importlib.import_module(_BUILDER)
    if getattr(builder, "black", None) is not BLACK:
        builder.black = BLACK  # type: ignore[attr-defined]
    return builder

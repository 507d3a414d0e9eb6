"""Exceptions raised by peragus_pysd.

Every error a user can cause is a subclass of :class:`PeragusError` (itself a
``ValueError``), so a notebook cell fails with a clear ``ename``/``evalue`` that
the TypeScript side forwards as the tool error message.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class PeragusError(ValueError):
    """Base class of the errors a caller can fix by changing the input."""


class ModelTranslationError(PeragusError):
    """PySD could not translate or load a model file."""


class UnknownModelError(PeragusError):
    """No model with that id was loaded in this kernel."""


class UnknownParameterError(PeragusError):
    """A parameter or variable name does not exist in the model."""


class InvalidParameterError(PeragusError):
    """A parameter specification is malformed (range min > max, bad distribution, ...)."""


class UnsupportedExperimentError(PeragusError):
    """The experiment type or one of its options is not supported."""


class InvalidExperimentError(PeragusError):
    """The experiment object is malformed."""


class NotVectorisableError(PeragusError):
    """``vectorise: "on"`` for an experiment that cannot run as one vectorised integration."""


class PathOutsideWorkDirError(PeragusError):
    """A path escapes the directory it is confined to."""


def close_matches(word: str, candidates: Iterable[str], n: int = 5) -> list[str]:
    """Candidates that look like ``word`` (case-insensitive), best first."""
    lowered: dict[str, str] = {}
    for c in candidates:  # first spelling wins: pass the model's own names first
        lowered.setdefault(c.lower(), c)
    pool = list(lowered.values())
    hits = difflib.get_close_matches(word.lower(), list(lowered), n=n, cutoff=0.5)
    out = [lowered[h] for h in hits]
    # Substring hits help with long Vensim names ("time" → "Characteristic Time").
    for c in pool:
        if len(out) >= n:
            break
        if word.lower() in c.lower() and c not in out:
            out.append(c)
    return out

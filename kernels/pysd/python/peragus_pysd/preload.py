"""What an experiment type imports on its first run, for the kernel zygote to import once before a
plan's kernels are forked (``{"op": "preload", "experiment": ...}`` on its main socket): a Sobol
plan of 24 experiments then pays SALib with scipy.stats (≈ 1.3 CPU-s) once, not in each kernel.

Only module names from this table are ever imported: the experiment (a client's) picks an entry,
never a name.
"""

from __future__ import annotations

import importlib
from typing import Any

BY_TYPE: dict[str, tuple[str, ...]] = {
    "sobol": ("SALib.sample.sobol", "SALib.analyze.sobol"),
    "morris": ("SALib.sample.morris", "SALib.analyze.morris"),
    "fast": ("SALib.sample.fast_sampler", "SALib.analyze.fast"),
    "optimization": ("scipy.optimize",),
}
# A parameter given as a distribution ({"dist": ...}) is sampled through scipy.stats (params.py).
DISTRIBUTIONS = ("scipy.stats",)


def modules_for(experiment: Any) -> list[str]:
    """The modules running ``experiment`` imports beyond a kernel's own (none for single, grid,
    monte_carlo or lhs over ranges); anything unrecognised asks for nothing."""
    if not isinstance(experiment, dict):
        return []
    kind = experiment.get("type")
    names = list(BY_TYPE.get(kind, ())) if isinstance(kind, str) else []
    params = experiment.get("parameters")
    if isinstance(params, dict) and any(isinstance(v, dict) and "dist" in v for v in params.values()):
        names += [m for m in DISTRIBUTIONS if m not in names]
    return names


def preload(experiment: Any) -> list[str]:
    """Imports :func:`modules_for` ``experiment``; returns their names."""
    names = modules_for(experiment)
    for name in names:
        importlib.import_module(name)
    return names

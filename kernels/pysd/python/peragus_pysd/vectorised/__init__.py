"""Vectorised sweeps: the N parameter sets of a design integrated as arrays in one pass over time.

:mod:`.scan` decides statically what may run with arrays, :mod:`.patches` holds
array-aware stand-ins for PySD functions that branch on values, :mod:`.engine`
integrates one chunk of runs, and :mod:`.driver` chunks the design, checks the
first chunk against per-run simulations and falls back when it must.
"""

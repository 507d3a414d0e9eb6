"""Peragus helpers for PySD experiments, pre-imported in every kernel."""

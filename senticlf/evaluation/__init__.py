"""Torch-free evaluation: metrics, calibration, comparison of two models, error groups.

Used by ``senticlf evaluate``, by export (the temperature fit) and by training (metrics and
error groups) alike, so it depends on numpy and the runtime only; plotting imports
matplotlib lazily (the ``evaluate`` extra).
"""

"""Predicting on engines users already run (Ray Data), built on ``senticlf.runtime``.

The home of the Ray code; ``senticlf.ray`` is only its public name (a re-export).

Nothing here is imported by ``import senticlf`` or by the CLI until ``--engine ray`` asks for
it, so the base install never needs Ray; ``options`` (the Ray job's checked options) is
Ray-free, so the CLI checks them before Ray is imported.
"""

"""Moved to :mod:`senticlf.evaluation.error_analysis` (kept for importers not yet updated)."""

from senticlf.evaluation.error_analysis import GROUPS, count_groups, error_groups

__all__ = ["GROUPS", "count_groups", "error_groups"]

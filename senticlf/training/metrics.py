"""Training's epoch metrics live in :mod:`senticlf.evaluation.metrics` (one source for
training, export and ``senticlf evaluate``); re-exported here for the trainer's import.
"""

from senticlf.evaluation.metrics import classification_metrics

__all__ = ["classification_metrics"]

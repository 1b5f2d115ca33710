"""Where the server turns probabilities into predictions: one helper for every protocol.

TEI's /predict, the native /classify and KServe's infer each answer in their own shape, but
the label each text gets, and what /metrics counts of it, come from here: the predictor's own
``to_prediction`` (threshold, then ``min_confidence``), then the label counter and the
confidence histogram, so the three protocols are counted the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from senticlf.runtime.predictor import Prediction

if TYPE_CHECKING:
    from senticlf.serve.service import Service


def predictions(
    service: Service, probabilities: np.ndarray, min_confidence: float | None = None
) -> list[Prediction]:
    """One Prediction per row of calibrated probabilities, counted in /metrics.

    ``min_confidence`` is a request's own (None: the server's --min-confidence, if any).
    """
    classifier = service.classifier
    found = [classifier.to_prediction(row, min_confidence) for row in probabilities]
    service.metrics.observe_predictions(service.model_name, found)
    return found

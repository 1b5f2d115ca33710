"""Does the exported model still classify like the trained one? Measured, not assumed.

PyTorch and ONNX see the same token ids in the same length-sorted batches (the runtime's
encoder and batching), so any difference in logits is the export's own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from senticlf import artifacts
from senticlf.runtime import plan
from senticlf.runtime.batching import TokenIds, run_length_sorted
from senticlf.runtime.session import ModelRunner
from senticlf.runtime.tokenize import ReviewEncoder

# Fixed so that PyTorch and every ONNX model get identical batches.
CHECK_BATCH = 16


@dataclass
class Scores:
    logits: np.ndarray
    accuracy: float


def scored(logits: np.ndarray, labels: np.ndarray) -> Scores:
    return Scores(logits, float(np.mean(np.argmax(logits, axis=1) == labels)))


def torch_scores(
    model_dir: Path, encoder: ReviewEncoder, ids: Sequence[TokenIds], labels: np.ndarray
) -> Scores:
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(model_dir, use_safetensors=True)
    model.eval()

    def run(batch: list[TokenIds]) -> np.ndarray:
        input_ids, attention_mask = encoder.pad(batch)
        with torch.inference_mode():
            out = model(
                input_ids=torch.from_numpy(input_ids),
                attention_mask=torch.from_numpy(attention_mask),
            )
        return out.logits.float().numpy()

    return scored(run_length_sorted(ids, CHECK_BATCH, run), labels)


def onnx_scores(
    model_path: Path, encoder: ReviewEncoder, ids: Sequence[TokenIds], labels: np.ndarray
) -> Scores:
    runner = ModelRunner(model_path)
    logits = run_length_sorted(ids, CHECK_BATCH, lambda batch: runner.logits(*encoder.pad(batch)))
    return scored(logits, labels)


def agreement(a: Scores, b: Scores) -> float:
    return float(np.mean(np.argmax(a.logits, axis=1) == np.argmax(b.logits, axis=1)))


def max_logit_difference(a: Scores, b: Scores) -> float:
    return float(np.max(np.abs(a.logits - b.logits)))


def alone_scores(
    model_path: Path, encoder: ReviewEncoder, ids: Sequence[TokenIds], labels: np.ndarray
) -> tuple[ModelRunner, Scores]:
    """Each review in a call of its own: how a model that is not batch-invariant is served."""
    runner = ModelRunner(model_path)
    logits = plan.run_alone(ids, lambda batch: runner.logits(*encoder.pad(batch)))
    return runner, scored(logits, labels)


def batch_profile(
    model_path: Path,
    encoder: ReviewEncoder,
    ids: Sequence[TokenIds],
    served: Callable[[np.ndarray], np.ndarray],
) -> artifacts.BatchProfile:
    """How ``model_path`` batches on this CPU: invariance at each size, and the fastest.

    ``served`` turns logits into probabilities as the predictor will (the bundle's calibrator).
    """
    return batch_profile_of(ModelRunner(model_path), encoder, ids, served)


def batch_profile_of(
    runner: ModelRunner,
    encoder: ReviewEncoder,
    ids: Sequence[TokenIds],
    served: Callable[[np.ndarray], np.ndarray],
    alone: np.ndarray | None = None,
    cap: int | None = None,
) -> artifacts.BatchProfile:
    """:func:`batch_profile` for an open session, on probabilities as served."""
    return plan.measure(
        ids,
        lambda batch: runner.logits(*encoder.pad(batch)),
        served,
        alone=alone,
        cap=cap,
    )

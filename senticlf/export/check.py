"""Does the exported model still classify like the trained one? Measured, not assumed.

PyTorch and ONNX see the same token ids in the same batches (the runtime's encoder), so any
difference in logits is the export's own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from senticlf.runtime.session import create_session, model_inputs
from senticlf.runtime.tokenize import ReviewEncoder

Batches = list[list[list[int]]]


@dataclass
class Scores:
    logits: np.ndarray
    accuracy: float


def batches_of(encoder: ReviewEncoder, texts: list[str], batch_size: int = 16) -> Batches:
    ids = encoder.encode(texts)
    return [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]


def _score(
    run_batch: Callable[[list[list[int]]], np.ndarray], batches: Batches, labels: np.ndarray
) -> Scores:
    logits = np.concatenate([run_batch(batch) for batch in batches])
    return Scores(logits, float(np.mean(np.argmax(logits, axis=1) == labels)))


def torch_scores(
    model_dir: Path, encoder: ReviewEncoder, batches: Batches, labels: np.ndarray
) -> Scores:
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(model_dir, use_safetensors=True)
    model.eval()

    def run(batch: list[list[int]]) -> np.ndarray:
        input_ids, attention_mask = encoder.pad(batch)
        with torch.inference_mode():
            out = model(
                input_ids=torch.from_numpy(input_ids),
                attention_mask=torch.from_numpy(attention_mask),
            )
        return out.logits.float().numpy()

    return _score(run, batches, labels)


def onnx_scores(
    model_path: Path, encoder: ReviewEncoder, batches: Batches, labels: np.ndarray
) -> Scores:
    session = create_session(model_path)

    def run(batch: list[list[int]]) -> np.ndarray:
        return session.run(None, model_inputs(session, *encoder.pad(batch)))[0]

    return _score(run, batches, labels)


def agreement(a: Scores, b: Scores) -> float:
    return float(np.mean(np.argmax(a.logits, axis=1) == np.argmax(b.logits, axis=1)))


def max_logit_difference(a: Scores, b: Scores) -> float:
    return float(np.max(np.abs(a.logits - b.logits)))

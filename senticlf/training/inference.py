"""Logits of a PyTorch model for token ids, returned in input order.

Trainer.predict cannot be used for per-review results: with length grouping on, its evaluation
sampler reorders the dataset (transformers >= 4.57), so its rows no longer line up with the
reviews. The runtime's length-sorted batching restores the order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from senticlf.runtime.batching import TokenIds, run_length_sorted
from senticlf.runtime.tokenize import ReviewEncoder


def predict_logits(
    model: Any, encoder: ReviewEncoder, ids: list[list[int]], batch_size: int = 64
) -> np.ndarray:
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()

    def run(batch: list[TokenIds]) -> np.ndarray:
        input_ids, mask = encoder.pad(batch)
        with (
            torch.inference_mode(),
            torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"),
        ):
            out = model(
                input_ids=torch.from_numpy(input_ids).to(device),
                attention_mask=torch.from_numpy(mask).to(device),
            )
        return out.logits.float().cpu().numpy()

    try:
        return run_length_sorted(ids, batch_size, run)
    finally:
        model.train(was_training)

"""Logits of a PyTorch model for token ids, returned in input order.

Trainer.predict cannot be used for per-review results: with length grouping on, its evaluation
sampler reorders the dataset (transformers >= 4.57), so its rows no longer line up with the
reviews. This loop sorts by length itself for speed and restores the order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from senticlf.runtime.tokenize import ReviewEncoder


def predict_logits(
    model: Any, encoder: ReviewEncoder, ids: list[list[int]], batch_size: int = 64
) -> np.ndarray:
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    logits = np.empty((len(ids), model.config.num_labels), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        input_ids, mask = encoder.pad([ids[i] for i in rows])
        with (
            torch.inference_mode(),
            torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"),
        ):
            out = model(
                input_ids=torch.from_numpy(input_ids).to(device),
                attention_mask=torch.from_numpy(mask).to(device),
            )
        logits[rows] = out.logits.float().cpu().numpy()
    model.train(was_training)
    return logits

"""The fp32 logits the calibration benchmark needs, computed once and kept as .npz.

Calibration and abstention figures depend only on logits and labels, so the model runs
once per review, whatever calibrators or splits are tried later. Reviews come from the real
aclImdb archive, outside everything the run saw: the calibration pool from IMDb's train split
minus the run's training reviews (``train.csv``), the test pool from the test split minus its
validation reviews (``val.csv``). The run's validation reviews are scored too: they are what
``senticlf export`` calibrates on by default.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console

import senticlf
from senticlf import artifacts, data
from senticlf.evaluation import scoring

CACHE_DIR = Path("runs/calibration-cache")  # runs/ is git-ignored


@dataclass(frozen=True)
class Pools:
    """Raw fp32 logits and labels of the three groups of reviews."""

    calibration_logits: np.ndarray
    calibration_labels: np.ndarray
    test_logits: np.ndarray
    test_labels: np.ndarray
    val_logits: np.ndarray
    val_labels: np.ndarray


def _excluding(reviews: list[data.Review], seen: set[str]) -> list[data.Review]:
    return [review for review in reviews if review.text not in seen]


def _sample(reviews: list[data.Review], size: int, seed: int) -> list[data.Review]:
    if size > len(reviews):
        raise ValueError(f"asked for {size} reviews, only {len(reviews)} available")
    return random.Random(seed).sample(reviews, size)


def load_pools(
    bundle: Path,
    archive: Path,
    run_dir: Path,
    calibration_pool: int,
    test_pool: int,
    seed: int,
    threads: int,
    cache_dir: Path = CACHE_DIR,
) -> Pools:
    """From the cache when this bundle/pool/seed was scored before, else score and cache."""
    model_hash = artifacts.read_manifest(bundle, verify=False).files[artifacts.FP32_MODEL][:12]
    cache = cache_dir / f"{model_hash}-cal{calibration_pool}-test{test_pool}-seed{seed}.npz"
    if cache.is_file():
        with np.load(cache) as stored:
            return Pools(**{name: stored[name] for name in Pools.__dataclass_fields__})
    progress = Console(stderr=True)
    labels = artifacts.LABELS
    splits = data.load_splits(str(archive), labels=labels)
    train_seen = {r.text for r in data.read_table(run_dir / artifacts.RUN_TRAIN_CSV, labels=labels)}
    val = data.read_table(run_dir / artifacts.RUN_VAL_CSV, labels=labels)
    val_seen = {r.text for r in val}
    calibration = _sample(_excluding(splits.train, train_seen), calibration_pool, seed)
    test = _sample(_excluding(splits.test, val_seen), test_pool, seed + 1)
    classifier = senticlf.load(bundle, quantized=False, threads=threads)
    arrays: dict[str, np.ndarray] = {}
    for name, reviews in (("calibration", calibration), ("test", test), ("val", val)):
        progress.print(f"scoring {len(reviews)} {name} reviews (fp32)")
        logits, _ = scoring.run_logits(classifier, [r.text for r in reviews], progress)
        arrays[f"{name}_logits"] = logits
        arrays[f"{name}_labels"] = np.array([r.label for r in reviews], dtype=np.int64)
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_suffix(".partial.npz")
    np.savez(partial, **arrays)  # type: ignore[arg-type]
    partial.replace(cache)
    return Pools(**arrays)


if __name__ == "__main__":
    import sys

    load_pools(
        Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]),
        int(sys.argv[4]), int(sys.argv[5]), 0, 2,
    )  # fmt: skip

"""benchmarks.calibration's arithmetic on synthetic logits: no model, no archive."""

import numpy as np

from benchmarks import calibration as bench
from benchmarks.common import results
from benchmarks.common.calibration_cache import Pools


def synthetic(n: int, seed: int):
    rng = np.random.default_rng(seed)
    d = rng.normal(0, 2, n)
    labels = (rng.random(n) < 1 / (1 + np.exp(-d))).astype(np.int64)
    return np.stack([np.zeros(n), 3 * d], axis=1), labels  # over-confident by 3


def test_splits_summary_and_markdown_agree():
    pools = Pools(*synthetic(600, 1), *synthetic(500, 2), *synthetic(200, 3))
    splits = [bench.one_split(pools, seed, 300, 300, 0.9) for seed in range(2)]
    for split in splits:
        split.pop("_curves")
        assert set(split["methods"]) == set(bench.METHODS)
        raw = split["methods"]["uncalibrated"]
        assert split["methods"]["temperature"]["log_loss"] < raw["log_loss"]
        promised, held_out = split["abstention"]["promised"], split["abstention"]["held_out"]
        assert promised["accuracy"] >= 0.9 and held_out["threshold"] == promised["threshold"]
    summary = bench.summarise(splits)
    eces = [s["methods"]["platt"]["ece"] for s in splits]
    assert summary["table"]["platt"]["ece"]["mean"] == np.mean(eces)
    assert summary["table"]["platt"]["ece"]["sd"] == np.std(eces, ddof=1)
    targets = bench.targets(summary, splits)
    assert targets["export_default"]["met"]  # the data is temperature-shaped: the same choice
    result = {
        "summary": summary, "targets": targets, "splits": splits, "target_accuracy": 0.9,
        "reviews": {"calibration_pool": 600, "test_pool": 500, "validation": 200,
                    "calibration_per_split": 300, "test_per_split": 300, "splits": 2},
    }  # fmt: skip
    text = results.body_markdown(bench.report(result))
    assert "| platt |" in text and "## Targets" in text and "--target-accuracy 0.9" in text

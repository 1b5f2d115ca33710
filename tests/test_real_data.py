"""Real IMDb reviews and a real pretrained encoder, from ../shared (skipped where absent).

Two short epochs on 600 reviews at 128 tokens (head+tail keeps a review's closing verdict):
enough to prove the pipeline learns real sentiment end to end (train -> export INT8 ->
torch-free predictor) in about two minutes on 2 CPU cores.
"""

import pytest
from rich.console import Console

from tests.conftest import SHARED

ARCHIVE = SHARED / "data" / "aclImdb_labelled.tar.gz"
ENCODER = SHARED / "models" / "all-MiniLM-L6-v2"

pytestmark = [
    pytest.mark.real_data,
    pytest.mark.skipif(
        not (ARCHIVE.is_file() and (ENCODER / "model.safetensors").is_file()),
        reason=f"real IMDb archive or pretrained encoder not found under {SHARED}",
    ),
]


def test_real_reviews_train_export_and_predict_better_than_chance(tmp_path):
    import numpy as np

    import senticlf
    from senticlf.artifacts import RUN_VAL_CSV
    from senticlf.export.bundle import export_run
    from senticlf.export.options import ExportOptions
    from senticlf.training.config import TrainConfig
    from senticlf.training.run_folder import read_subset
    from senticlf.training.trainer import train

    run_dir = tmp_path / "run"
    config = TrainConfig(
        data=str(ARCHIVE), base_model=str(ENCODER), train_size=600, val_size=200, epochs=2,
        learning_rate=1e-4, batch_size=16, max_length=128, warmup_ratio=0.1, device="cpu",
    )  # fmt: skip
    metrics = train(config, run_dir, console=Console(quiet=True))
    assert metrics["best"]["val_accuracy"] >= 0.7, metrics["best"]

    bundle = tmp_path / "bundle"
    report = export_run(
        run_dir, bundle, ExportOptions(quantize=True, plan_runs=0), Console(quiet=True)
    )
    assert report.fp32_max_logit_difference < 1e-3
    kept = report.int8.kept if report.int8 else None
    assert kept and kept.accuracy >= 0.7 and kept.agreement >= 0.98

    # Real reviews of very different lengths share batches: every answer equals the review's
    # answer alone, for fp32 and for INT8 (which the runtime never batches).
    texts = [review.text for review in read_subset(run_dir, RUN_VAL_CSV, config)][:48]
    for quantized in (False, True):
        alone_model = senticlf.load(bundle, quantized=quantized, batch_size=1)
        alone = np.stack([alone_model.probabilities([text])[0] for text in texts])
        for size in (8, 32):
            batched = senticlf.load(bundle, quantized=quantized, batch_size=size)
            together = batched.probabilities(texts[::-1])[::-1]
            assert np.max(np.abs(together - alone)) <= 1e-4, (quantized, size)

    prediction = senticlf.load(bundle).predict(
        "One of the best films I have seen: moving and funny."
    )
    assert prediction.label == "positive"

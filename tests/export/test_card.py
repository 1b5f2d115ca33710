import json
import shutil

from senticlf import artifacts
from senticlf.export.card import render_card, summary
from tests.helpers import assert_one_line_error, invoke


def calibrated_manifest(**overrides) -> artifacts.Manifest:
    settings = dict(
        max_length=512, truncation="head+tail", base_model="distilbert-base-uncased",
        files={artifacts.FP32_MODEL: "0" * 64, artifacts.INT8_MODEL: "1" * 64},
        labels=["negative", "neutral", "positive"], opset=18, senticlf_version="0.1.0",
        training_metrics={"best_epoch": 3, "train_size": 1000, "val_size": 200,
                          "best": {"val_accuracy": 0.885, "val_f1": 0.883, "val_loss": 0.31}},
        export_check=artifacts.ExportCheck(
            reviews=200, torch_accuracy=0.885, fp32_accuracy=0.885,
            fp32_max_logit_difference=2.1e-5, graph_optimization="O2",
            int8=artifacts.Int8Result(
                "avx2", (artifacts.Int8Attempt("per-channel", 0.88, 0.99),), "per-channel"
            ),
            calibration=artifacts.CalibrationCheck(
                temperature=1.7, reviews=200, ece_before=0.061, ece_after=0.018,
                nll_before=0.42, nll_after=0.33,
            ),
        ),
        batching=artifacts.Batching("Test CPU", ("avx2",), {
            artifacts.INT8_MODEL: artifacts.BatchProfile(1, 1, {8: 0.2}, {1: 95.0}),
        }),
        calibration={"kind": "temperature", "temperature": 1.7},
    )  # fmt: skip
    settings.update(overrides)
    return artifacts.Manifest(**settings)


def test_card_tells_a_reviewer_what_the_bundle_is():
    card = render_card(
        calibrated_manifest(), name="reviews3", recipe={"data": "reviews3.csv", "epochs": 5}
    )
    assert card.startswith("---\n") and "base_model: distilbert-base-uncased" in card
    assert "# reviews3" in card and "0 negative, 1 neutral, 2 positive" in card
    assert "reviews3.csv" in card and "5 epochs" in card and "88.50%" in card
    assert "temperature of 1.700" in card and "0.0610 before, 0.0180 after" in card
    assert "longer than 512 tokens is cut" in card and "last three quarters" in card
    assert "senticlf.load(" in card and "`model.int8.onnx`" in card
    assert "88.00%" in card and "(per-channel)" in card and "99.00%" in card
    assert "batch 1 (95.0 reviews/s on Test CPU), batch-invariant up to 1" in card


def test_card_of_an_uncalibrated_fp32_bundle_says_so():
    manifest = calibrated_manifest(
        files={artifacts.FP32_MODEL: "0" * 64},
        export_check=None,
        batching=None,
        calibration=None,
        truncation="head",
    )
    card = render_card(manifest)
    assert "no temperature was fitted" in card and "dynamic INT8" not in card
    assert "the first tokens are kept" in card and "Not recorded in this bundle" in card
    assert ("INT8", "none (fp32 only)") in summary(manifest)


def test_info_checks_the_card_like_every_other_file(bundle, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    manifest = artifacts.read_manifest(copy)
    (copy / artifacts.CARD).write_text(render_card(manifest), encoding="utf-8")
    data = json.loads((copy / artifacts.MANIFEST).read_text())
    data["files"] = artifacts.hash_files(copy, [*manifest.files, artifacts.CARD])
    (copy / artifacts.MANIFEST).write_text(json.dumps(data))
    result = invoke("info", copy)
    assert result.exit_code == 0, result.output
    assert "all 4 files match" in result.stdout and "no model card" not in result.stdout
    with open(copy / artifacts.CARD, "a", encoding="utf-8") as handle:
        handle.write("edited\n")
    assert_one_line_error(invoke("info", copy), "README.md does not match")

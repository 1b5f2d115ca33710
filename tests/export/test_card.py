import json
import shutil

import pytest

from senticlf import artifacts
from senticlf.export import card_metadata
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


def test_the_card_header_is_what_the_hub_reads(tmp_path):
    huggingface_hub = pytest.importorskip("huggingface_hub")
    manifest = calibrated_manifest()
    card_file = tmp_path / artifacts.CARD
    recipe = {"data": str(tmp_path / "aclImdb_v1.tar.gz")}  # the release is IMDb on the Hub
    card_file.write_text(render_card(manifest, "reviews3", recipe, license="apache-2.0"))
    data = huggingface_hub.metadata_load(card_file)  # the Hub's own front-matter parser
    assert data["library_name"] == "senticlf" and data["pipeline_tag"] == "text-classification"
    assert data["base_model"] == "distilbert-base-uncased" and data["license"] == "apache-2.0"
    assert data["datasets"] == ["stanfordnlp/imdb"] and data["language"] == ["en"]
    assert {"onnx", "int8", "sentiment-analysis"} <= set(data["tags"])
    results = huggingface_hub.ModelCard.load(card_file).data.eval_results
    figures = {(r.metric_type, r.metric_name): r.metric_value for r in results}
    assert figures == {
        ("accuracy", "Accuracy (ONNX fp32)"): 0.885,  # the export check's figures
        ("accuracy", "Accuracy (ONNX INT8)"): 0.88,
        ("f1", "Macro F1"): 0.883,  # three labels: macro
    }
    assert {(r.task_type, r.dataset_type, r.dataset_split) for r in results} == {
        ("text-classification", "stanfordnlp/imdb", "test")
    }


def test_unknown_fields_are_left_out_not_guessed(tmp_path, tiny_base_model):
    huggingface_hub = pytest.importorskip("huggingface_hub")
    manifest = calibrated_manifest(
        base_model=str(tiny_base_model),  # a local folder is no Hub id
        files={artifacts.FP32_MODEL: "0" * 64},
        labels=["spam", "ham"],
    )
    card = huggingface_hub.ModelCard(render_card(manifest, "mail", {"data": "my: mail.csv"}))
    data = card.data.to_dict()
    assert "base_model" not in data and "datasets" not in data and "license" not in data
    assert "language" not in data  # not known for the user's own data
    assert data["tags"] == ["senticlf", "onnx"]  # fp32 only; spam/ham is no sentiment
    assert {r.dataset_type for r in card.data.eval_results} == {"custom"}
    assert [r.metric_name for r in card.data.eval_results if r.metric_type == "f1"] == [
        "F1 (PyTorch, best epoch)"
    ]


def test_a_license_comes_from_the_base_models_own_card(tmp_path):
    assert card_metadata.license_of(str(tmp_path)) is None  # no card
    (tmp_path / artifacts.CARD).write_text("---\ntags: [x]\nlicense: apache-2.0\n---\n# base\n")
    assert card_metadata.license_of(str(tmp_path)) == "apache-2.0"
    (tmp_path / artifacts.CARD).write_text("# no front matter\nlicense: mit\n")
    assert card_metadata.license_of(str(tmp_path)) is None


def test_an_exported_bundles_card_parses_on_the_hub(bundle):
    huggingface_hub = pytest.importorskip("huggingface_hub")
    manifest = artifacts.read_manifest(bundle)
    data = huggingface_hub.metadata_load(bundle / artifacts.CARD)
    assert data["library_name"] == "senticlf"
    assert ("int8" in data["tags"]) == (artifacts.INT8_MODEL in manifest.files)
    (index,) = data["model-index"]
    accuracy = index["results"][0]["metrics"][0]
    assert accuracy["value"] == round(manifest.export_check.fp32_accuracy, 4)

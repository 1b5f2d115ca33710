import json
import shutil

import numpy as np
import onnx
import pytest
import torch
from rich.console import Console
from transformers import AutoModelForSequenceClassification

import senticlf
from senticlf import artifacts, cpu
from senticlf.errors import SenticlfError
from senticlf.export import check, quantize
from senticlf.export.bundle import export_run
from senticlf.export.options import ExportOptions
from senticlf.runtime.session import create_session
from senticlf.runtime.tokenize import ReviewEncoder
from tests.conftest import make_reviews

NO_PLAN_TIMING = ExportOptions(plan_runs=0)  # the plan timings are tested once, in conftest
QUIET = Console(quiet=True)


def onnx_logits(path, input_ids, attention_mask):
    session = create_session(path)
    return session.run(None, {"input_ids": input_ids, "attention_mask": attention_mask})[0]


@pytest.fixture(scope="module")
def torch_model(trained_run):
    model = AutoModelForSequenceClassification.from_pretrained(trained_run / "model")
    return model.eval()


@pytest.mark.parametrize("batch_size", [1, 3, 32])
@pytest.mark.parametrize("n_words", [0, 1, 10, 200])
def test_fp32_logits_match_pytorch_at_every_shape(bundle, torch_model, batch_size, n_words):
    """Batch sizes 1/3/32, lengths from 2 tokens ([CLS] [SEP]) to the max length of 64."""
    encoder = ReviewEncoder.load(
        artifacts.EncoderSettings(bundle / artifacts.TOKENIZER, 64, "head")
    )
    texts = [" ".join(["great film"] * (n_words + i)) for i in range(batch_size)]
    input_ids, attention_mask = encoder.pad(encoder.encode(texts))
    assert input_ids.shape[1] <= 64
    expected = (
        torch_model(
            input_ids=torch.from_numpy(input_ids), attention_mask=torch.from_numpy(attention_mask)
        )
        .logits.detach()
        .numpy()
    )
    got = onnx_logits(bundle / artifacts.FP32_MODEL, input_ids, attention_mask)
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)


def test_int8_graph_is_quantized_and_agrees_with_fp32(bundle):
    graph = onnx.load(bundle / artifacts.INT8_MODEL).graph
    ops = {node.op_type for node in graph.node}
    assert ops & {"MatMulInteger", "DynamicQuantizeMatMul", "QLinearMatMul"}, ops
    encoder = ReviewEncoder.load(
        artifacts.EncoderSettings(bundle / artifacts.TOKENIZER, 64, "head")
    )
    texts = [text for text, _ in make_reviews(64, seed=9)]
    input_ids, attention_mask = encoder.pad(encoder.encode(texts))
    fp32 = onnx_logits(bundle / artifacts.FP32_MODEL, input_ids, attention_mask).argmax(1)
    int8 = onnx_logits(bundle / artifacts.INT8_MODEL, input_ids, attention_mask).argmax(1)
    assert np.mean(fp32 == int8) >= 0.9


def test_manifest_records_the_check_and_hashes(bundle, trained_run):
    manifest = artifacts.read_manifest(bundle)
    assert set(manifest.files) == {
        artifacts.FP32_MODEL,
        artifacts.INT8_MODEL,
        artifacts.TOKENIZER,
        artifacts.CARD,
    }
    assert manifest.max_length == 64 and manifest.truncation == "head+tail"
    assert manifest.opset and manifest.opset >= 14
    check = manifest.export_check
    assert check is not None and check.fp32_max_logit_difference < 1e-3
    assert check.fp32_accuracy == pytest.approx(check.torch_accuracy)
    int8 = check.int8
    assert int8 and int8.variant in quantize.LADDERS[int8.preset]
    assert int8.variant == int8.tried[-1].variant and int8.kept == int8.tried[-1]
    assert 0.9 <= int8.tried[-1].agreement <= 1
    metrics = json.loads((trained_run / artifacts.RUN_METRICS).read_text())
    assert manifest.training_metrics["best_epoch"] == metrics["best_epoch"]


def test_int8_that_loses_accuracy_fails_but_keeps_fp32(trained_run, tmp_path, monkeypatch):
    output = tmp_path / "bundle"
    monkeypatch.setattr(check, "agreement", lambda a, b: 0.5)  # no INT8 setting can pass this
    strict = ExportOptions(quantize=True, plan_runs=0)
    with pytest.raises(SenticlfError, match="INT8 lost too much.*fp32 bundle was kept"):
        export_run(trained_run, output, strict, QUIET)
    manifest = artifacts.read_manifest(output)
    assert set(manifest.files) == {artifacts.FP32_MODEL, artifacts.TOKENIZER, artifacts.CARD}
    assert not (output / artifacts.INT8_MODEL).exists()
    assert manifest.export_check and manifest.export_check.int8
    assert manifest.export_check.int8.variant is None
    tried = [t.variant for t in manifest.export_check.int8.tried]
    assert tried == list(quantize.LADDERS[cpu.int8_preset()])  # the whole ladder was tried


def test_unfinished_run_is_refused(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    shutil.rmtree(run / artifacts.RUN_MODEL_DIR)
    with pytest.raises(SenticlfError, match="no finished model"):
        export_run(run, tmp_path / "b", NO_PLAN_TIMING, QUIET)
    assert not (tmp_path / "b").exists()


def test_existing_bundle_is_kept_without_overwrite(bundle, trained_run):
    before = (bundle / artifacts.MANIFEST).read_text()
    with pytest.raises(SenticlfError, match="--overwrite"):
        export_run(trained_run, bundle, NO_PLAN_TIMING, QUIET)
    assert (bundle / artifacts.MANIFEST).read_text() == before


def test_default_export_fuses_attention_and_no_optimize_does_not(bundle, trained_run, tmp_path):
    fused_ops = {node.op_type for node in onnx.load(bundle / artifacts.FP32_MODEL).graph.node}
    assert {"Attention", "SkipLayerNormalization"} <= fused_ops
    plain = tmp_path / "plain"
    report = export_run(
        trained_run, plain, ExportOptions(optimize=False, calibrate=False, plan_runs=0), QUIET
    )
    plain_ops = {node.op_type for node in onnx.load(plain / artifacts.FP32_MODEL).graph.node}
    assert "Attention" not in plain_ops and report.graph_optimization == "none"
    assert report.fp32_max_logit_difference < 1e-4
    # --no-calibrate: scores stay the model's own softmax
    plain_manifest = artifacts.read_manifest(plain)
    assert report.calibration is None and plain_manifest.calibration is None
    assert "temperature" not in json.loads((plain / artifacts.MANIFEST).read_text())


def test_export_calibrates_with_a_cross_validated_choice(bundle, trained_run):
    from senticlf.runtime.calibrator import Calibrator

    manifest = artifacts.read_manifest(bundle)
    assert manifest.export_check and manifest.export_check.calibration
    fitted = manifest.export_check.calibration
    calibrator = Calibrator.from_dict(manifest.calibration)
    assert fitted.kind == calibrator.kind and fitted.reviews == 48  # the run's val reviews
    assert fitted.temperature == calibrator.equivalent_temperature > 0
    assert "temperature" not in json.loads((bundle / artifacts.MANIFEST).read_text())
    assert set(fitted.candidates) == {"temperature", "platt", "isotonic"}
    best = min(c["log_loss"] for c in fitted.candidates.values())
    assert fitted.cv_log_loss <= fitted.candidates["temperature"]["log_loss"]
    assert fitted.cv_log_loss == best or calibrator.kind == "temperature"
    assert 0 <= fitted.accuracy_after <= 1 and 0 <= fitted.validation_accuracy_after <= 1
    card = (bundle / artifacts.CARD).read_text()
    assert "cross-validated" in card and calibrator.describe() in card
    assert f"{fitted.accuracy_before:.2%} before calibration" in card


def test_export_calibrates_on_the_calibration_data_it_is_given(trained_run, review_files, tmp_path):
    """--calibration-data: any labelled table; the fit, the report and the labels follow it."""
    from senticlf.runtime.calibrator import Calibrator

    out = tmp_path / "cal"
    options = ExportOptions(optimize=False, calibration_data=str(review_files["csv"]), plan_runs=0)
    report = export_run(trained_run, out, options, QUIET)
    fitted = report.calibration
    assert fitted and fitted.reviews == 160 and fitted.source == str(review_files["csv"])
    manifest = artifacts.read_manifest(out)
    calibrator = Calibrator.from_dict(manifest.calibration)
    assert manifest.export_check and manifest.export_check.calibration == fitted
    assert calibrator.reviews == 160
    texts = [text for text, _ in make_reviews(40, seed=11)]
    classifier = senticlf.load(out)
    logits = classifier.logits_of_ids(classifier.encoder.encode(texts))
    predicted = calibrator.apply(logits).argmax(axis=1)
    assert [p.label for p in classifier.predict(texts)] == [classifier.labels[i] for i in predicted]
    with pytest.raises(SenticlfError, match="exclude each other"):
        ExportOptions(calibrate=False, calibration_data="x.csv")
    missing = tmp_path / "missing.csv"
    with pytest.raises(SenticlfError, match="does not exist"):
        export_run(
            trained_run,
            tmp_path / "x",
            ExportOptions(calibration_data=str(missing), plan_runs=0),
            QUIET,
        )
    assert not (tmp_path / "x").exists()


def test_every_bundle_carries_a_checked_model_card(bundle, tmp_path):
    card = (bundle / artifacts.CARD).read_text()
    manifest = artifacts.read_manifest(bundle)
    assert artifacts.CARD in manifest.files  # hashed like every other file
    for fragment in ("negative, positive", "temperature", "senticlf.load", "truncat"):
        assert fragment in card, fragment
    tampered = tmp_path / "tampered"
    shutil.copytree(bundle, tampered)
    (tampered / artifacts.CARD).write_text(card + "\nIt is great at everything.\n")
    with pytest.raises(SenticlfError, match="README.md does not match its sha256"):
        artifacts.read_manifest(tampered)


def test_export_measures_how_each_model_batches_on_this_cpu(bundle):
    manifest = artifacts.read_manifest(bundle)
    batching = manifest.batching
    assert batching and batching.cpu == cpu.cpu_name()
    assert set(batching.models) == {artifacts.FP32_MODEL, artifacts.INT8_MODEL}
    for profile in batching.models.values():
        assert 1 <= profile.batch_size <= profile.invariant_up_to
        assert set(profile.reviews_per_s) >= {1, profile.batch_size}
        assert all(speed > 0 for speed in profile.reviews_per_s.values())
    fp32 = batching.models[artifacts.FP32_MODEL]
    # fp32 gives a review the same probabilities alone and among others, at every size tried
    assert fp32.invariant_up_to == 32 and max(fp32.max_probability_change.values()) <= 1e-4


def test_the_predictor_serves_the_variant_the_manifest_records(bundle):
    import senticlf

    classifier = senticlf.load(bundle, quantized=True)
    assert classifier.model_file == artifacts.INT8_MODEL
    recorded = artifacts.sha256_of(bundle / classifier.model_file)
    assert classifier.manifest.files[artifacts.INT8_MODEL] == recorded
    assert classifier.manifest.export_check and classifier.manifest.export_check.int8
    assert classifier.manifest.export_check.int8.variant

import json
import math
import shutil

import numpy as np
import pytest
import torch
from rich.console import Console

from senticlf import artifacts
from senticlf.errors import SenticlfError
from senticlf.training import callbacks, distill
from senticlf.training.distill import DistillConfig
from tests.conftest import make_reviews
from tests.helpers import assert_one_line_error, invoke

QUIET = Console(quiet=True)


def _save_tiny(folder, family: str, layers: int, tokenizer_dir):
    """A random tiny classifier with ``layers`` layers, saved with the fixture's tokenizer."""
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        DistilBertConfig,
        DistilBertForSequenceClassification,
        PreTrainedTokenizerFast,
    )

    tokenizer = PreTrainedTokenizerFast.from_pretrained(tokenizer_dir)
    vocab = len(tokenizer.get_vocab())
    torch.manual_seed(1)
    if family == "distilbert":
        config = DistilBertConfig(
            vocab_size=vocab, dim=16, hidden_dim=32, n_layers=layers, n_heads=2
        )
        model = DistilBertForSequenceClassification(config)
    else:
        config = BertConfig(
            vocab_size=vocab, hidden_size=16, intermediate_size=32, num_hidden_layers=layers,
            num_attention_heads=2,
        )  # fmt: skip
        model = BertForSequenceClassification(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return model


def test_layers_spread_over_the_depth_like_distilbert():
    assert distill.spread_layers(12, 6) == [0, 2, 4, 7, 9, 11]  # DistilBERT's own choice
    assert distill.spread_layers(6, 3) == [0, 2, 5]
    assert distill.spread_layers(6, 2) == [0, 5]
    assert distill.spread_layers(4, 1) == [3]
    assert distill.spread_layers(4, 4) == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("family", "layer_path"),
    [("distilbert", "distilbert.transformer.layer"), ("bert", "bert.encoder.layer")],
)
def test_student_keeps_the_requested_teacher_layers(tmp_path, tiny_base_model, family, layer_path):
    teacher = _save_tiny(tmp_path, family, 4, tiny_base_model)
    student = distill.student_from_teacher(tmp_path, 2)
    assert distill.student_depth(student) == 2
    teacher_weights, student_weights = teacher.state_dict(), student.state_dict()
    assert len(student_weights) < len(teacher_weights)
    for name, value in student_weights.items():
        if name.startswith(layer_path + "."):
            index, rest = name.removeprefix(layer_path + ".").split(".", 1)
            source = f"{layer_path}.{[0, 3][int(index)]}.{rest}"  # first and last layer
        else:
            source = name  # embeddings, head
        assert torch.equal(value, teacher_weights[source]), name
    assert student.config.distilled_from_layers == [0, 3]


def test_distillation_loss_matches_a_hand_computation():
    student = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    teacher = torch.tensor([[1.0, 0.0], [0.0, 3.0]])
    labels = torch.tensor([0, -100])  # the second review has no label
    t, alpha = 2.0, 0.25

    def softmax(row):
        exps = [math.exp(x / t) for x in row]
        return [e / sum(exps) for e in exps]

    kl = (
        sum(
            sum(p * math.log(p / q) for p, q in zip(softmax(tr), softmax(sr), strict=True))
            for tr, sr in zip(teacher.tolist(), student.tolist(), strict=True)
        )
        / 2
    )
    hard = -math.log(math.exp(2.0) / (math.exp(2.0) + 1.0))
    expected = alpha * t * t * kl + (1 - alpha) * hard
    loss = distill.distillation_loss(student, teacher, labels, t, alpha)
    assert float(loss) == pytest.approx(expected, rel=1e-6)
    # alpha 0 is the hard-label control: plain cross-entropy on the labelled reviews
    assert float(distill.distillation_loss(student, teacher, labels, t, 0.0)) == pytest.approx(hard)


def test_a_distilled_run_is_an_ordinary_run_that_exports_and_predicts(
    tmp_path, trained_run, review_files
):
    run_dir = tmp_path / "student"
    result = invoke(
        "distill", trained_run, "--output", run_dir, "--layers", "1", "--epochs", "2",
        "--temperature", "3", "--alpha", "0.7", "--unlabelled", review_files["aclimdb"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for name in (artifacts.RUN_CONFIG, artifacts.RUN_CURVES, artifacts.RUN_ERRORS,
                 artifacts.RUN_TEACHER_LOGITS, artifacts.RUN_TRAIN_CSV, artifacts.RUN_VAL_CSV):  # fmt: skip
        assert (run_dir / name).is_file(), name
    metrics = json.loads((run_dir / artifacts.RUN_METRICS).read_text())
    assert metrics["status"] == "complete" and metrics["student_layers"] == 1
    assert metrics["teacher"]["run"] == str(trained_run)
    config = DistillConfig.load(run_dir)
    assert (config.teacher, config.layers, config.temperature, config.alpha) == (
        str(trained_run), 1, 3.0, 0.7,
    )  # fmt: skip
    assert config.max_length == 64  # the teacher's recipe where none was given
    teacher_sha256 = artifacts.sha256_of(trained_run / artifacts.RUN_MODEL_DIR / artifacts.WEIGHTS)
    recorded = json.loads((run_dir / artifacts.RUN_CONFIG).read_text())
    assert recorded["teacher"] == str(trained_run)
    assert recorded["teacher_sha256"] == teacher_sha256 == metrics["teacher"]["sha256"]
    transfer = recorded["transfer_set"]
    assert (transfer["size"], transfer["labelled"], transfer["unlabelled"]) == (161, 160, 1)
    assert (transfer["source"], transfer["max_length"]) == (str(review_files["aclimdb"]), 64)
    assert transfer["logits_from"]["kind"] == "pytorch"
    assert transfer["logits_from"]["sha256"] == teacher_sha256
    with np.load(run_dir / artifacts.RUN_TEACHER_LOGITS) as cache:
        assert cache["logits"].shape == (metrics["train_size"], 2)

    bundle = tmp_path / "bundle"
    result = invoke("export", run_dir, "--output", bundle, "--quantize", "--plan-runs", "0")
    assert result.exit_code == 0, result.output
    import senticlf

    predictions = senticlf.load(bundle).predict(["Great wonderful film.", "Awful boring plot."])
    assert [p.label for p in predictions] == ["positive", "negative"]
    card = (bundle / artifacts.CARD).read_text()
    assert f"Distilled from the teacher run `{trained_run}`" in card
    assert teacher_sha256 in card and "Transfer set: 161 reviews" in card


def test_resume_reuses_the_cached_teacher_logits(tmp_path, trained_run, monkeypatch):
    unlabelled = tmp_path / "unlabelled.txt"
    unlabelled.write_text("a great film\n\nan awful dull plot\n", encoding="utf-8")
    config = distill.config_from_teacher(
        trained_run, layers=1, epochs=3, unlabelled=str(unlabelled)
    )
    run_dir = tmp_path / "student"
    original = callbacks.CheckpointLedger.on_save

    def save_then_interrupt(self, args, state, control, **kwargs):
        original(self, args, state, control, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(callbacks.CheckpointLedger, "on_save", save_then_interrupt)
    with pytest.raises(SenticlfError, match="senticlf distill --resume"):
        distill.distill(config, run_dir, console=QUIET)
    cached = np.load(run_dir / artifacts.RUN_TEACHER_LOGITS)["logits"]
    assert len(cached) == len(distill.read_unlabelled(unlabelled)) + 160  # train + 2 texts

    def no_teacher(*args, **kwargs):
        raise AssertionError("the teacher's logits were recomputed")

    monkeypatch.setattr(callbacks.CheckpointLedger, "on_save", original)
    monkeypatch.setattr(distill, "teacher_logits", no_teacher)
    result = invoke("distill", "--resume", run_dir)
    assert result.exit_code == 0, result.output
    metrics = json.loads((run_dir / artifacts.RUN_METRICS).read_text())
    assert metrics["status"] == "complete" and metrics["unlabelled_size"] == 2
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2, 3]


def test_an_unfinished_teacher_is_one_clear_error(tmp_path, trained_run):
    teacher = tmp_path / "teacher"
    teacher.mkdir()
    shutil.copy(trained_run / artifacts.RUN_CONFIG, teacher)
    artifacts.write_run_metrics(teacher, {"status": "interrupted"})
    result = invoke("distill", teacher, "--output", tmp_path / "student")
    assert_one_line_error(result, "no finished model", "senticlf train --resume")
    assert not (tmp_path / "student").exists()


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["--layers", "3"], "--layers must be between 1 and 2 (the teacher's layers), got 3"),
        (["--layers", "0"], "--layers must be between 1 and 2"),
        (["--temperature", "0"], "--temperature must be > 0, got 0.0"),
        (["--alpha", "1.5"], "--alpha must be in [0, 1], got 1.5"),
        (["--layers", "1", "--student", "x"], "pass --layers or --student, not both"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path, trained_run, options, fragment):
    result = invoke("distill", trained_run, "--output", tmp_path / "student", *options)
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "student").exists()


def test_a_student_with_another_vocabulary_is_refused(tmp_path, trained_run, tiny_base_model):
    from transformers import AutoTokenizer

    student = tmp_path / "other-vocab"
    shutil.copytree(tiny_base_model, student)
    tokenizer = AutoTokenizer.from_pretrained(student)
    tokenizer.add_tokens(["zyzzyva"])
    tokenizer.save_pretrained(student)
    result = invoke("distill", trained_run, "--output", tmp_path / "student", "--student", student)
    assert_one_line_error(result, "different vocabulary", "teacher's tokenizer")
    assert not (tmp_path / "student").exists()


def test_a_config_without_teacher_or_with_unlabelled_and_alpha_0_is_refused(trained_run):
    with pytest.raises(SenticlfError, match="teacher run folder"):
        DistillConfig()
    with pytest.raises(SenticlfError, match="--alpha 0"):
        DistillConfig(teacher=str(trained_run), alpha=0.0, unlabelled="texts.txt")


def test_unlabelled_texts_may_be_a_gzipped_table(tmp_path, trained_run):
    import gzip

    texts = tmp_path / "unlabelled.csv.gz"
    texts.write_bytes(gzip.compress(b'id,review\n1,"a great, moving film"\n2,\n3,dull\n'))
    assert distill.read_unlabelled(texts) == ["a great, moving film", "dull"]
    no_text = tmp_path / "ids.csv.gz"
    no_text.write_bytes(gzip.compress(b"id\n1\n"))
    result = invoke("distill", trained_run, "--unlabelled", no_text, "--output", tmp_path / "s")
    assert_one_line_error(result, str(no_text), "no text column")
    assert not (tmp_path / "s").exists()


# ---------------------------------------------------------------------------- transfer texts


def test_the_unsup_reviews_of_an_aclimdb_folder_or_archive_are_unlabelled_texts(review_files):
    for source in (review_files["aclimdb"], review_files["tar"]):
        assert distill.read_unlabelled(source) == ["an unlabelled review"]


def test_an_aclimdb_copy_without_unsup_is_one_clear_error(tmp_path):
    (tmp_path / "aclImdb" / "train" / "pos").mkdir(parents=True)
    (tmp_path / "aclImdb" / "train" / "pos" / "0_9.txt").write_text("great", encoding="utf-8")
    with pytest.raises(SenticlfError, match="no train/unsup"):
        distill.read_unlabelled(tmp_path / "aclImdb")


# ---------------------------------------------------------------------------- teacher bundle


def _bundle_logits(bundle, texts, quantized: bool):
    import senticlf

    classifier = senticlf.load(bundle, quantized=quantized)
    return classifier.logits_of_ids(classifier.encoder.encode(texts))


def test_the_teacher_bundle_labels_the_texts_and_the_cache_names_it(
    tmp_path, trained_run, bundle, review_files
):
    run_dir = tmp_path / "student"
    result = invoke(
        "distill", trained_run, "--output", run_dir, "--layers", "1", "--epochs", "1",
        "--teacher-bundle", bundle, "--unlabelled", review_files["aclimdb"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    config = DistillConfig.load(run_dir)
    from senticlf.training import run_folder

    train_rows = run_folder.read_subset(run_dir, artifacts.RUN_TRAIN_CSV, config)
    texts = [row.text for row in train_rows] + ["an unlabelled review"]
    with np.load(run_dir / artifacts.RUN_TEACHER_LOGITS) as cache:
        logits, producer = cache["logits"], json.loads(str(cache["producer"]))
    np.testing.assert_allclose(logits, _bundle_logits(bundle, texts, quantized=True), atol=1e-5)
    assert producer["kind"] == "onnx" and producer["file"] == artifacts.INT8_MODEL
    assert producer["sha256"] == artifacts.sha256_of(bundle / artifacts.INT8_MODEL)
    assert config.transfer_set["logits_from"]["file"] == artifacts.INT8_MODEL


def test_the_fp32_file_of_a_bundle_gives_the_pytorch_teachers_logits(trained_run, bundle):
    texts = [text for text, _ in make_reviews(12, seed=5)]
    config = distill.config_from_teacher(trained_run, layers=1)
    pytorch = distill.teacher_logits(trained_run, texts, config)
    config.teacher_bundle = str(bundle / artifacts.FP32_MODEL)
    onnx = distill.teacher_logits(trained_run, texts, config)
    np.testing.assert_allclose(onnx, pytorch, atol=1e-4)
    config.teacher_bundle = str(bundle)  # the folder: its INT8 model, close to the fp32 one
    int8 = distill.teacher_logits(trained_run, texts, config)
    assert np.array_equal(int8.argmax(axis=1), pytorch.argmax(axis=1))


def test_the_logit_cache_is_recomputed_when_another_model_produced_it(
    tmp_path, trained_run, bundle, monkeypatch
):
    texts = ["a great film", "an awful plot"]
    config = distill.config_from_teacher(trained_run, layers=1)
    teacher_config, teacher_metrics = distill.run_folder.finished_run(trained_run)
    computed = []
    original = distill.teacher_logits

    def counting(teacher_dir, texts, config, console=None):
        computed.append(config.teacher_bundle)
        return original(teacher_dir, texts, config, console)

    monkeypatch.setattr(distill, "teacher_logits", counting)

    def cached(teacher_bundle):
        config.teacher_bundle = teacher_bundle
        producer = distill.logit_producer(trained_run, teacher_config, teacher_metrics, config)
        return distill.cached_teacher_logits(tmp_path, trained_run, texts, producer, QUIET, config)

    pytorch = cached(None)
    assert np.array_equal(cached(None), pytorch) and computed == [None]  # reused
    int8 = cached(str(bundle))
    assert computed == [None, str(bundle)] and not np.array_equal(int8, pytorch)
    cached(str(bundle / artifacts.FP32_MODEL))  # another file of the same bundle
    assert len(computed) == 3
    with np.load(tmp_path / artifacts.RUN_TEACHER_LOGITS) as cache:
        assert json.loads(str(cache["producer"]))["file"] == artifacts.FP32_MODEL
    texts.append("one more review")  # other texts: recomputed too
    cached(str(bundle / artifacts.FP32_MODEL))
    assert len(computed) == 4


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"labels": ["bad", "good"]}, "labels"),
        ({"max_length": 32}, "the teacher was trained on"),
        ({"training_metrics": {"best_epoch": 99}}, "exported from another run"),
    ],
)
def test_a_bundle_of_another_model_is_refused(tmp_path, trained_run, bundle, change, fragment):
    other = tmp_path / "other-bundle"
    shutil.copytree(bundle, other)
    manifest = json.loads((other / artifacts.MANIFEST).read_text())
    manifest.update(change)
    (other / artifacts.MANIFEST).write_text(json.dumps(manifest))
    result = invoke(
        "distill", trained_run, "--output", tmp_path / "student", "--teacher-bundle", other
    )
    assert_one_line_error(result, "does not match the teacher run", fragment)
    assert not (tmp_path / "student").exists()

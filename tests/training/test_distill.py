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


def test_a_distilled_run_is_an_ordinary_run_that_exports_and_predicts(tmp_path, trained_run):
    run_dir = tmp_path / "student"
    result = invoke(
        "distill", trained_run, "--output", run_dir, "--layers", "1", "--epochs", "2",
        "--temperature", "3", "--alpha", "0.7",
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
    with np.load(run_dir / artifacts.RUN_TEACHER_LOGITS) as cache:
        assert cache["logits"].shape == (metrics["train_size"], 2)

    bundle = tmp_path / "bundle"
    result = invoke("export", run_dir, "--output", bundle, "--quantize")
    assert result.exit_code == 0, result.output
    import senticlf

    predictions = senticlf.load(bundle).predict(["Great wonderful film.", "Awful boring plot."])
    assert [p.label for p in predictions] == ["positive", "negative"]


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

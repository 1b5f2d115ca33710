"""A text's answer does not depend on its batch-mates: measured at export, enforced at load."""

from __future__ import annotations

import json
import random
import shutil

import numpy as np
import pytest

import senticlf
from senticlf import artifacts, cpu
from senticlf.runtime import batch_choice
from tests.conftest import make_reviews
from tests.helpers import invoke

TOLERANCE = batch_choice.INVARIANCE_TOLERANCE["fp32"]


def mixed_length_texts(n: int = 64) -> list[str]:
    """Toy reviews from 5 to 60 words plus a few very long ones, shuffled together."""
    texts = [text for text, _ in make_reviews(n, seed=21)]
    texts += ["A wonderful film. " * 40, "Awful. " * 3, "boring dull film " * 30]
    random.Random(4).shuffle(texts)
    return texts


@pytest.mark.parametrize("quantized", [False, True], ids=["fp32", "int8"])
def test_probabilities_do_not_depend_on_batch_mates_or_batch_size(bundle, quantized):
    texts = mixed_length_texts()
    one = senticlf.load(bundle, quantized=quantized, batch_size=1)
    alone = np.stack([one.probabilities([text])[0] for text in texts])
    for size in (8, 32):
        batched = senticlf.load(bundle, quantized=quantized, batch_size=size)
        together = batched.probabilities(texts)
        assert np.max(np.abs(together - alone)) <= TOLERANCE, size
        assert (together.argmax(1) == alone.argmax(1)).all()
        # the same text at another position, among other batch-mates
        reversed_order = batched.probabilities(texts[::-1])[::-1]
        assert np.max(np.abs(reversed_order - alone)) <= TOLERANCE


def test_dynamic_int8_is_never_batched_and_fp32_is(bundle):
    int8 = senticlf.load(bundle, quantized=True, batch_size=32)
    assert int8.model_file == artifacts.INT8_MODEL
    assert int8.batch_profile.invariant_up_to == 1 and int8.batch_size == 1
    fp32 = senticlf.load(bundle, quantized=False, batch_size=32)
    assert fp32.batch_size == 32
    assert senticlf.load(bundle, quantized=False).batch_size == fp32.batch_profile.batch_size


def test_the_measurement_finds_what_batching_changes():
    """A fake model whose output depends on the batch's longest text (as padding-aware INT8
    ranges do) is found not invariant at 8, so the runtime will run it one text at a time."""

    def depends_on_batch(batch):
        width = max(len(ids) for ids in batch)
        return np.array([[0.0, len(ids) / width] for ids in batch])

    def independent(batch):
        return np.array([[0.0, len(ids) / 100] for ids in batch])

    ids = [[1] * n for n in range(1, 41)]
    moving = batch_choice.measure(ids, depends_on_batch)
    assert moving.invariant_up_to == 1 and moving.batch_size == 1
    assert moving.max_probability_change[8] > 0.01 and 32 not in moving.max_probability_change
    steady = batch_choice.measure(ids, independent)
    assert steady.invariant_up_to == 32 and set(steady.reviews_per_s) == {1, 8, 32}
    assert steady.batch_size in (1, 8, 32)


def test_a_bundle_measured_on_another_cpu_is_measured_again_at_load(bundle, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    data = json.loads((copy / artifacts.MANIFEST).read_text())
    data["batching"]["cpu"] = "Some Other CPU"
    data["batching"]["models"][artifacts.FP32_MODEL]["batch_size"] = 4  # never a measured size
    (copy / artifacts.MANIFEST).write_text(json.dumps(data))
    here = senticlf.load(copy, quantized=False)
    assert here.batch_profile.invariant_up_to == 32 and here.batch_size in (1, 8, 32)
    # a measurement here never lifts the cap export set for dynamic INT8
    assert senticlf.load(copy, quantized=True, batch_size=32).batch_size == 1
    data["batching"]["cpu"] = cpu.cpu_name()
    (copy / artifacts.MANIFEST).write_text(json.dumps(data))
    assert senticlf.load(copy, quantized=False).batch_size == 4  # the record is trusted here


def test_an_older_bundle_without_a_record_runs_int8_one_text_at_a_time(bundle, tmp_path):
    copy = tmp_path / "old"
    shutil.copytree(bundle, copy)
    data = json.loads((copy / artifacts.MANIFEST).read_text())
    del data["batching"]
    (copy / artifacts.MANIFEST).write_text(json.dumps(data))
    assert senticlf.load(copy, quantized=True, batch_size=8).batch_size == 1
    assert senticlf.load(copy, quantized=False, batch_size=8).batch_size == 8


def test_predict_gives_a_review_the_same_scores_whatever_file_it_is_in(bundle, tmp_path):
    texts = mixed_length_texts()
    target = texts[5]
    alone_file, crowd_file = tmp_path / "alone.txt", tmp_path / "crowd.txt"
    alone_file.write_text(target + "\n", encoding="utf-8")
    crowd_file.write_text("\n".join(texts) + "\n", encoding="utf-8")
    rows = {}
    for name, path in (("alone", alone_file), ("crowd", crowd_file)):
        result = invoke(
            "predict", path, "--model", bundle, "--format", "jsonl", "--batch-size", "32"
        )
        assert result.exit_code == 0, result.output
        records = [json.loads(line) for line in result.stdout.splitlines()]
        rows[name] = records[0] if name == "alone" else records[5]
    for label, score in rows["alone"]["scores"].items():
        assert rows["crowd"]["scores"][label] == pytest.approx(score, abs=TOLERANCE)

"""A text's answer does not depend on its batch-mates: measured at export, enforced at load."""

from __future__ import annotations

import json
import random
import shutil

import numpy as np
import pytest

import senticlf
from senticlf import artifacts, cpu
from senticlf.runtime import plan
from senticlf.runtime.options import available_cores
from tests.conftest import make_reviews
from tests.helpers import invoke

TOLERANCE = plan.INVARIANCE_TOLERANCE["fp32"]


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
    moving = plan.measure(ids, depends_on_batch)
    assert moving.invariant_up_to == 1 and moving.batch_size == 1
    assert moving.max_probability_change[8] > 0.01 and 32 not in moving.max_probability_change
    steady = plan.measure(ids, independent)
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


# ---------------------------------------------------------------------------- streams and threads


@pytest.mark.parametrize("quantized", [False, True], ids=["fp32", "int8"])
def test_streams_give_the_answers_one_stream_gives(bundle, quantized):
    texts = mixed_length_texts()
    one = senticlf.load(bundle, quantized=quantized, streams=1, threads=1)
    two = senticlf.load(bundle, quantized=quantized, streams=2, threads=1)
    assert (one.plan.streams, two.plan.streams) == (1, 2)
    assert np.array_equal(one.probabilities(texts), two.probabilities(texts))
    assert [p.label for p in one.predict(texts)] == [p.label for p in two.predict(texts)]


def test_export_records_the_plan_it_timed_in_fresh_processes(bundle):
    manifest = artifacts.read_manifest(bundle)
    assert manifest.batching is not None
    cores = available_cores()
    for name, profile in manifest.batching.models.items():
        timed = {(t.batch_size, t.execution) for t in profile.trials}
        sizes = {1, profile.batch_size} if profile.batch_size != 1 else {1}
        assert {size for size, _ in timed} <= sizes | {1}, name
        assert {e for _, e in timed} == set(plan.candidate_executions(cores)), name
        assert all(len(t.reviews_per_s) == 1 and t.reviews_per_s[0] > 0 for t in profile.trials)
        assert profile.execution == plan.best_trial(profile.trials).execution
        loaded = senticlf.load(bundle, quantized=name == artifacts.INT8_MODEL)
        assert loaded.plan.execution == profile.execution
        assert loaded.plan.source == "measured at export on this CPU"


def test_the_batching_record_round_trips_with_its_plan():
    trial = artifacts.ExecutionTrial(artifacts.Execution(2, 1, False), 1, (50.0, 56.5, 54.0))
    profile = artifacts.BatchProfile(
        1, 1, {8: 0.3}, {1: 55.0}, execution=trial.execution, trials=(trial,)
    )
    batching = artifacts.Batching("cpu", ("avx2",), {artifacts.INT8_MODEL: profile})
    assert artifacts.Batching.from_dict(json.loads(json.dumps(batching.to_dict()))) == batching
    assert profile.speed == 54.0  # the median of the fresh-process runs of the chosen plan


def test_a_bundle_exported_before_plans_were_timed_gets_the_default_plan(bundle, tmp_path):
    copy = tmp_path / "before-plans"
    shutil.copytree(bundle, copy)
    data = json.loads((copy / artifacts.MANIFEST).read_text())
    for profile in data["batching"]["models"].values():
        del profile["execution"], profile["trials"]
    (copy / artifacts.MANIFEST).write_text(json.dumps(data))
    clf = senticlf.load(copy, quantized=True)
    assert clf.plan.source == "default for a CPU export did not measure"
    assert clf.plan.execution == plan.default_execution(clf.options.budget)
    assert clf.predict("A fine film.").label in clf.labels


def test_the_steadiest_fast_plan_wins_over_one_that_fell_into_a_slow_mode():
    spinning = artifacts.ExecutionTrial(
        artifacts.Execution(1, 2, True), 1, (42.4, 43.2, 55.9, 56.3)
    )
    quiet = artifacts.ExecutionTrial(artifacts.Execution(1, 2, False), 1, (53.2, 54.1, 51.5, 53.7))
    streams = artifacts.ExecutionTrial(
        artifacts.Execution(2, 1, False), 1, (51.1, 57.7, 57.1, 56.7)
    )
    assert plan.best_trial([spinning, quiet, streams]) is streams
    # a near-tie goes to more streams: a few runs can miss a slow mode that one stream has
    lucky = artifacts.ExecutionTrial(artifacts.Execution(1, 2, True), 1, (51.2, 52.0, 54.1))
    steady = artifacts.ExecutionTrial(artifacts.Execution(2, 1, False), 1, (53.0, 53.9, 46.6))
    assert plan.best_trial([lucky, steady]) is steady
    clearly_faster = artifacts.ExecutionTrial(
        artifacts.Execution(1, 2, True), 1, (60.0, 61.0, 62.0)
    )
    assert plan.best_trial([clearly_faster, steady]) is clearly_faster
    # a high median does not make up for a slow mode
    shaky = artifacts.ExecutionTrial(artifacts.Execution(2, 1, False), 1, (30.0, 60.0, 60.0))
    assert plan.best_trial([spinning, shaky]) is spinning


def test_the_callers_streams_and_threads_fill_the_cores_given():
    measured = artifacts.Execution(1, 4, True)
    options = senticlf.PredictorOptions
    assert plan.choose_execution(options(cores=4), measured, True)[0] == measured
    # measured for another core count: the default for these cores
    assert plan.choose_execution(options(cores=2), measured, True)[0] == plan.default_execution(2)
    assert plan.choose_execution(options(cores=4, threads=2), None, True)[0] == (
        artifacts.Execution(2, 2, False)
    )
    assert plan.choose_execution(options(cores=4, streams=4), None, True)[0] == (
        artifacts.Execution(4, 1, False)
    )
    with pytest.raises(senticlf.SenticlfError, match="need 6 cores; 4 are available"):
        options(cores=4, streams=3, threads=2)
    with pytest.raises(senticlf.SenticlfError, match="--streams must be at least 1"):
        options(streams=0)


def test_an_execution_is_timed_in_a_child_process(bundle):
    from senticlf.runtime import execution_trials

    clf = senticlf.load(bundle, quantized=True)
    ids = clf.encoder.encode(mixed_length_texts(8))
    configs = [(1, artifacts.Execution(1, 1, False)), (1, artifacts.Execution(2, 1, False))]
    trials = execution_trials.time_configurations(
        bundle / artifacts.INT8_MODEL, ids, clf.encoder.pad_id, configs, runs=2
    )
    assert [(t.batch_size, t.execution) for t in trials] == configs
    assert all(len(t.reviews_per_s) == 2 and min(t.reviews_per_s) > 0 for t in trials)

import random
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import senticlf
from senticlf import artifacts
from senticlf.errors import SenticlfError
from tests.conftest import make_reviews

ODD_TEXTS = [
    "",
    "   \t  ",
    "😀",
    "Great 映画 фильм فيلم",
    "bad\x00\x07\x1b[31m film",
    "<p>Great <b>film</b></p><br /><br />Loved it",
    "great " * 200_000,  # a 1.2 MB review
    "awful film\r\nboring\r\n",
    "\ufeffwonderful film",
    "\ud800 lone surrogate film \udfff",  # valid JSON ("\\ud800") a tokenizer cannot take
]


@pytest.fixture(scope="module")
def classifier(bundle):
    return senticlf.load(bundle)


def test_one_string_gives_one_prediction_and_a_list_gives_a_list(classifier):
    single = classifier.predict("A wonderful, brilliant film.")
    assert isinstance(single, senticlf.Prediction)
    assert single.label == "positive" and 0.5 < single.score <= 1
    many = classifier.predict(["A wonderful film.", "An awful, boring waste."])
    assert [p.label for p in many] == ["positive", "negative"]
    assert many[0] == single.__class__(**many[0].as_dict())


def test_order_is_kept_whatever_the_lengths(bundle):
    texts = [text for text, _ in make_reviews(100, seed=3)]
    random.Random(0).shuffle(texts)
    # fp32: dynamic INT8 picks activation scales per batch, so its probabilities move by ~1e-4
    batched = senticlf.load(bundle, quantized=False, batch_size=8).predict(texts)
    single = senticlf.load(bundle, quantized=False, batch_size=1)
    one_by_one = [single.predict(t) for t in texts[:20]]
    assert [p.label for p in batched[:20]] == [p.label for p in one_by_one]
    np.testing.assert_allclose(
        [p.positive for p in batched[:20]], [p.positive for p in one_by_one], atol=1e-5
    )


def with_speeds(bundle, tmp_path, int8: float, fp32: float, cpu_name: str | None = None):
    """A copy of ``bundle`` whose manifest says export timed INT8 and fp32 at these speeds."""
    import json

    from senticlf import cpu

    copy = tmp_path / f"speeds-{int8}-{fp32}-{cpu_name}"
    shutil.copytree(bundle, copy)
    data = json.loads((copy / artifacts.MANIFEST).read_text())
    data["batching"]["cpu"] = cpu_name or cpu.cpu_name()
    for name, speed in ((artifacts.INT8_MODEL, int8), (artifacts.FP32_MODEL, fp32)):
        profile = data["batching"]["models"][name]
        profile["reviews_per_s"][str(profile["batch_size"])] = speed
    (copy / artifacts.MANIFEST).write_text(json.dumps(data))
    return copy


def test_the_default_model_is_the_one_export_measured_faster_here(bundle, tmp_path):
    faster_int8 = with_speeds(bundle, tmp_path, int8=90.0, fp32=50.0)
    assert senticlf.load(faster_int8).model_file == artifacts.INT8_MODEL
    assert senticlf.load(faster_int8, quantized=False).model_file == artifacts.FP32_MODEL
    faster_fp32 = with_speeds(bundle, tmp_path, int8=20.0, fp32=25.0)
    assert senticlf.load(faster_fp32).model_file == artifacts.FP32_MODEL
    assert senticlf.load(faster_fp32, quantized=True).model_file == artifacts.INT8_MODEL
    elsewhere = with_speeds(bundle, tmp_path, int8=20.0, fp32=25.0, cpu_name="Another CPU")
    assert senticlf.load(elsewhere).model_file == artifacts.INT8_MODEL  # not measured here


def test_stream_is_lazy_and_ordered(classifier):
    consumed = []

    def texts():
        for i in range(3000):
            consumed.append(i)
            yield "great film" if i % 2 else "awful film"

    stream = classifier.predict_stream(texts())
    first = next(stream)
    assert first.label == "negative" and len(consumed) <= 1024  # only one chunk was read
    rest = list(stream)
    assert len(rest) == 2999 and rest[0].label == "positive"


@pytest.mark.parametrize("text", ODD_TEXTS, ids=range(len(ODD_TEXTS)))
def test_odd_texts_always_get_a_prediction(classifier, text):
    prediction = classifier.predict(text)
    assert prediction.label in ("positive", "negative")
    assert 0.5 <= prediction.score <= 1 and 0 <= prediction.positive <= 1


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.text(max_size=300), min_size=1, max_size=12))
def test_any_unicode_gives_valid_probabilities(classifier, texts):
    predictions = classifier.predict(texts)
    assert len(predictions) == len(texts)
    for p in predictions:
        assert p.label in ("positive", "negative")
        assert 0 <= p.positive <= 1 and 0.5 <= p.score <= 1
        assert p.score == pytest.approx(p.positive if p.label == "positive" else 1 - p.positive)


def test_threads_share_one_classifier_safely(classifier):
    texts = [text for text, _ in make_reviews(200, seed=5)]
    chunks = [texts[i::4] for i in range(4)] * 2
    sequential = [[p.positive for p in classifier.predict(chunk)] for chunk in chunks]
    start = threading.Barrier(len(chunks))

    def work(chunk):
        start.wait()  # all threads call predict at the same moment
        return [p.positive for p in classifier.predict(chunk)]

    with ThreadPoolExecutor(len(chunks)) as pool:
        concurrent = list(pool.map(work, chunks))
    for got, expected in zip(concurrent, sequential, strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-6)


def test_non_string_input_is_a_clear_error(classifier):
    with pytest.raises(SenticlfError, match="expects strings"):
        classifier.predict([42])


def copy_bundle(bundle, tmp_path):
    target = tmp_path / "bundle"
    shutil.copytree(bundle, target)
    return target


def test_tampered_model_is_refused_before_loading(bundle, tmp_path):
    copy = copy_bundle(bundle, tmp_path)
    with open(copy / artifacts.INT8_MODEL, "r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00\x01\x02")
    with pytest.raises(SenticlfError, match="does not match its sha256"):
        senticlf.load(copy)


def test_truncated_model_is_refused(bundle, tmp_path):
    copy = copy_bundle(bundle, tmp_path)
    data = (copy / artifacts.FP32_MODEL).read_bytes()
    (copy / artifacts.FP32_MODEL).write_bytes(data[: len(data) // 2])
    with pytest.raises(SenticlfError, match="model.onnx does not match"):
        senticlf.load(copy, quantized=False)


def test_missing_pieces_are_named(bundle, tmp_path):
    copy = copy_bundle(bundle, tmp_path)
    (copy / artifacts.TOKENIZER).unlink()
    with pytest.raises(SenticlfError, match="tokenizer.json is missing"):
        senticlf.load(copy)
    (copy / artifacts.MANIFEST).write_text("{not json")
    with pytest.raises(SenticlfError, match="corrupted"):
        senticlf.load(copy)
    (copy / artifacts.MANIFEST).unlink()
    with pytest.raises(SenticlfError, match="not a senticlf bundle"):
        senticlf.load(copy)
    with pytest.raises(SenticlfError, match="does not exist"):
        senticlf.load(tmp_path / "nowhere")


def test_every_label_gets_a_probability_that_sums_to_one(classifier):
    prediction = classifier.predict("A wonderful, brilliant film.")
    assert set(prediction.scores) == {"negative", "positive"}
    assert sum(prediction.scores.values()) == pytest.approx(1.0)
    assert prediction.scores[prediction.label] == prediction.score
    assert prediction.positive == prediction.scores["positive"]


def test_threshold_moves_labels_not_scores(bundle):
    texts = [text for text, _ in make_reviews(40, seed=5)]
    plain = senticlf.load(bundle, quantized=False).predict(texts)
    strict = senticlf.load(bundle, quantized=False, threshold=0.999).predict(texts)
    assert [p.positive for p in strict] == [p.positive for p in plain]
    assert all(p.label == "negative" for p in strict if p.positive < 0.999)
    with pytest.raises(SenticlfError, match="between 0 and 1"):
        senticlf.load(bundle, threshold=1.5)


def test_the_manifest_temperature_softens_scores_but_keeps_labels(bundle, tmp_path):
    import json

    calibrated = tmp_path / "calibrated"
    shutil.copytree(bundle, calibrated)
    manifest = json.loads((calibrated / artifacts.MANIFEST).read_text())
    manifest["temperature"] = 4.0
    (calibrated / artifacts.MANIFEST).write_text(json.dumps(manifest))
    texts = [text for text, _ in make_reviews(30, seed=6)]
    sharp = senticlf.load(bundle, quantized=False).predict(texts)
    soft = senticlf.load(calibrated, quantized=False).predict(texts)
    assert [p.label for p in soft] == [p.label for p in sharp]
    assert all(
        abs(s.positive - 0.5) <= abs(p.positive - 0.5) + 1e-12
        for s, p in zip(soft, sharp, strict=True)
    )

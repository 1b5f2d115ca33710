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
        for trial in profile["trials"]:  # the plan's fresh-process runs are what is compared
            if (trial["execution"], trial["batch_size"]) == (
                profile["execution"],
                profile["batch_size"],
            ):
                trial["reviews_per_s"] = [speed * 0.99, speed, speed * 1.01]
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


def edited_copy(bundle, folder, **fields):
    """A copy of ``bundle`` whose manifest has ``fields`` replaced (None deletes the field)."""
    import json

    shutil.copytree(bundle, folder)
    manifest = json.loads((folder / artifacts.MANIFEST).read_text())
    for name, value in fields.items():
        if value is None:
            manifest.pop(name, None)
        else:
            manifest[name] = value
    (folder / artifacts.MANIFEST).write_text(json.dumps(manifest))
    return folder


def test_an_old_bundle_with_a_temperature_only_still_softens_scores_and_keeps_labels(
    bundle, tmp_path
):
    """Bundles from before ``calibration`` existed: their temperature is the calibrator."""
    sharp_bundle = edited_copy(bundle, tmp_path / "sharp", calibration=None, temperature=1.0)
    soft_bundle = edited_copy(bundle, tmp_path / "soft", calibration=None, temperature=4.0)
    texts = [text for text, _ in make_reviews(30, seed=6)]
    sharp = senticlf.load(sharp_bundle, quantized=False).predict(texts)
    soft_classifier = senticlf.load(soft_bundle, quantized=False)
    soft = soft_classifier.predict(texts)
    logits = soft_classifier.logits_of_ids(soft_classifier.encoder.encode(texts))
    expected = np.exp(logits / 4.0) / np.exp(logits / 4.0).sum(axis=1, keepdims=True)
    assert np.allclose([p.positive for p in soft], expected[:, 1], atol=1e-12)
    assert [p.label for p in soft] == [p.label for p in sharp]
    assert all(
        abs(s.positive - 0.5) <= abs(p.positive - 0.5) + 1e-12
        for s, p in zip(soft, sharp, strict=True)
    )


def test_predictions_are_the_manifest_calibrator_applied_to_the_logits(bundle, tmp_path):
    """One function (Calibrator.apply) for every path: equal to the last bit, labels its argmax."""
    from senticlf.runtime.calibrator import Calibrator

    texts = [text for text, _ in make_reviews(40, seed=12)]
    platt = {"kind": "platt", "scale": 0.3, "bias": 0.4}
    for folder in (bundle, edited_copy(bundle, tmp_path / "platt", calibration=platt)):
        classifier = senticlf.load(folder, quantized=False)
        manifest = artifacts.read_manifest(folder)
        calibrator = Calibrator.from_dict(manifest.calibration)
        direct = calibrator.apply(classifier.logits_of_ids(classifier.encoder.encode(texts)))
        served = classifier.probabilities(texts)
        assert np.array_equal(served, direct)
        predictions = classifier.predict(texts)
        assert [p.label for p in predictions] == [classifier.labels[i] for i in direct.argmax(1)]
        assert [p.positive for p in predictions] == direct[:, 1].tolist()


def test_a_broken_calibrator_in_the_manifest_is_a_clear_error(bundle, tmp_path):
    broken = edited_copy(bundle, tmp_path / "broken", calibration={"kind": "magic"})
    with pytest.raises(SenticlfError, match="calibrator kind must be one of"):
        senticlf.load(broken)


def test_min_confidence_labels_unsure_texts_uncertain_and_keeps_their_scores(bundle):
    texts = [text for text, _ in make_reviews(40, seed=13)]
    plain = senticlf.load(bundle, quantized=False).predict(texts)
    cut = sorted(p.score for p in plain)[len(plain) // 2]  # about half fall below
    unsure = senticlf.load(bundle, quantized=False, min_confidence=cut).predict(texts)
    assert [p.scores for p in unsure] == [p.scores for p in plain]
    assert [p.score for p in unsure] == [p.score for p in plain]
    assert [p.label for p in unsure] == ["uncertain" if p.score < cut else p.label for p in plain]
    assert any(p.label == "uncertain" for p in unsure)
    # Per call (a server's request field): the same answer as a classifier built with it.
    plain_classifier = senticlf.load(bundle, quantized=False)
    rows = plain_classifier.probabilities(texts)
    per_call = [plain_classifier.to_prediction(row, min_confidence=cut) for row in rows]
    assert per_call == unsure
    with pytest.raises(SenticlfError, match="min confidence must be in"):
        plain_classifier.to_prediction(rows[0], min_confidence=2.0)
    # After --threshold: the threshold picks the label, then its probability is checked.
    both = senticlf.load(bundle, quantized=False, threshold=0.2, min_confidence=0.6).predict(texts)
    for p in both:
        chosen = "positive" if p.positive >= 0.2 else "negative"
        assert p.score == p.scores[chosen]
        assert p.label == ("uncertain" if p.scores[chosen] < 0.6 else chosen)


def test_min_confidence_is_checked_and_an_uncertain_label_is_refused(bundle, tmp_path):
    with pytest.raises(SenticlfError, match=r"min confidence must be in \(0, 1\]"):
        senticlf.load(bundle, min_confidence=1.5)
    odd = edited_copy(bundle, tmp_path / "odd", labels=["negative", "uncertain"])
    senticlf.load(odd)  # fine without abstention
    with pytest.raises(SenticlfError, match="already has a label named 'uncertain'"):
        senticlf.load(odd, min_confidence=0.7)

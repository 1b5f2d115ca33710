"""Ray Data prediction must give what the single-process predictor gives, row for row."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from senticlf.errors import SenticlfError
from senticlf.runtime.options import PredictorOptions
from senticlf.runtime.predictor import SentimentClassifier
from senticlf.scale import ray_files
from senticlf.scale.ray_data import (
    LABEL_COLUMN,
    SCORE_COLUMN,
    BundleWorker,
    plan_workers,
    predict_dataset,
)
from tests.scale.conftest import BLANK_ROWS

ray = pytest.importorskip("ray")

ONE_THREAD = PredictorOptions(threads=1)


def test_rows_match_the_single_process_predictor_in_input_order(bundle, review_table, local_ray):
    dataset = ray_files.read(review_table["parquet"], "parquet")  # read tasks hold no CPU
    # fp32: INT8 quantizes activations per batch, so its scores move (~1e-5) with the batch's
    # composition, which differs between one process and several workers; fp32's do not.
    rows = predict_dataset(
        dataset, bundle, PredictorOptions(threads=1, quantized=False), num_workers=2
    ).take_all()
    texts = [row["review"] for row in rows]
    assert [row["id"] for row in rows] == list(range(300))  # order and every input column kept
    reference = SentimentClassifier(bundle, PredictorOptions(quantized=False, threads=1))
    expected = iter(reference.predict([t for i, t in enumerate(texts) if i not in BLANK_ROWS]))
    for i, row in enumerate(rows):
        if i in BLANK_ROWS:  # blank texts keep their row, without a prediction
            assert row[LABEL_COLUMN] is None and row[SCORE_COLUMN] is None
            continue
        want = next(expected)
        assert row[LABEL_COLUMN] == want.label
        assert row[SCORE_COLUMN] == pytest.approx(want.score, abs=1e-6)
        for label in reference.labels:
            assert row[f"p_{label}"] == pytest.approx(want.scores[label], abs=1e-6)


def test_a_missing_text_column_fails_before_any_worker_starts(bundle, local_ray):
    dataset = ray.data.from_items([{"body": "a great film"}])
    with pytest.raises(SenticlfError, match=r"no text column .*columns are \['body'\]"):
        predict_dataset(dataset, bundle)
    with pytest.raises(SenticlfError, match="has no column 'comment'; columns are"):
        predict_dataset(ray.data.from_items([{"text": "fine"}]), bundle, text_column="comment")


def test_a_column_the_prediction_would_overwrite_is_refused(bundle, local_ray):
    dataset = ray.data.from_items([{"text": "a great film", "predicted_label": "x"}])
    with pytest.raises(SenticlfError, match="already has column"):
        predict_dataset(dataset, bundle)


def test_a_worker_refuses_a_bundle_that_differs_from_the_drivers(bundle, tmp_path: Path):
    import pyarrow as pa

    copy = shutil.copytree(bundle, tmp_path / "copy")
    from senticlf import artifacts

    files = artifacts.read_manifest(copy).files
    worker = BundleWorker(str(copy), files, "text", ONE_THREAD)
    out = worker(pa.table({"text": ["a great film", " "]}))
    assert out.column(LABEL_COLUMN).to_pylist()[1] is None
    with pytest.raises(SenticlfError, match="not the one the driver checked"):
        BundleWorker(str(copy), {**files, "model.onnx": "0" * 64}, "text", ONE_THREAD)
    with open(copy / "model.int8.onnx", "ab") as handle:  # tampered after the driver's check
        handle.write(b"\0")
    with pytest.raises(SenticlfError, match="does not match its sha256"):
        BundleWorker(str(copy), files, "text", ONE_THREAD)


def test_a_worker_abstains_as_the_predictor_does(bundle):
    import pyarrow as pa

    from senticlf import artifacts

    texts = ["a great film", "the film was", "awful boring waste", "fine story and music"]
    local = SentimentClassifier(bundle, PredictorOptions(min_confidence=0.9, threads=1)).predict(
        texts
    )
    files = artifacts.read_manifest(bundle).files
    worker = BundleWorker(
        str(bundle), files, "text", PredictorOptions(threads=1, min_confidence=0.9)
    )
    out = worker(pa.table({"text": texts}))
    assert out.column(LABEL_COLUMN).to_pylist() == [p.label for p in local]


def test_workers_load_neither_torch_nor_transformers(bundle, local_ray):
    @ray.remote(num_cpus=1)
    def heavy_modules_after_predicting(bundle_dir: str) -> list[str]:
        import sys

        import pyarrow as pa

        from senticlf import artifacts
        from senticlf.scale.ray_data import BundleWorker

        files = artifacts.read_manifest(bundle_dir).files
        BundleWorker(bundle_dir, files, "text", ONE_THREAD)(pa.table({"text": ["a great film"]}))
        return sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers"))

    assert ray.get(heavy_modules_after_predicting.remote(str(bundle))) == []


@pytest.mark.parametrize(
    ("cpus", "workers", "threads", "plan"),
    [(2, None, None, (2, 1)), (2, 1, None, (1, 2)), (8, None, 2, (4, 2)), (2, 2, 1, (2, 1))],
)
def test_workers_times_threads_fill_but_never_exceed_the_cpus(cpus, workers, threads, plan):
    chosen = plan_workers(cpus, workers, threads)
    assert (chosen.workers, chosen.threads) == plan


def test_more_workers_than_cpus_is_refused():
    with pytest.raises(SenticlfError, match="need 4 CPUs; the Ray cluster has 2"):
        plan_workers(2, 2, 2)


def test_senticlf_ray_is_the_same_function_and_leaves_import_ray_alone():
    import senticlf.ray
    from senticlf.scale import ray_data

    assert senticlf.ray.predict_dataset is ray_data.predict_dataset
    # senticlf.ray is a public name only: everything it offers is defined in senticlf.scale
    homes = {getattr(senticlf.ray, name).__module__ for name in senticlf.ray.__all__}
    assert homes == {"senticlf.scale.ray_data", "senticlf.scale.ray_files"}
    assert ray.data.Dataset is ray_data.ray.data.Dataset  # `import ray` inside is Ray itself

"""`senticlf predict --engine ray`: Parquet/JSONL in, a complete output folder or one error line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from senticlf.runtime.options import PredictorOptions
from senticlf.runtime.predictor import SentimentClassifier
from tests.helpers import assert_one_line_error, invoke
from tests.scale.conftest import BLANK_ROWS

ray = pytest.importorskip("ray")


def expected_labels(bundle: Path, texts: list[str]) -> list[str | None]:
    clf = SentimentClassifier(bundle, PredictorOptions(threads=1))
    predictions = iter(clf.predict([t for i, t in enumerate(texts) if i not in BLANK_ROWS]))
    return [None if i in BLANK_ROWS else next(predictions).label for i in range(len(texts))]


def test_parquet_in_a_folder_of_parquet_out_in_order(bundle, review_table, local_ray, tmp_path):
    import pyarrow.parquet as pq

    out = tmp_path / "preds.parquet"
    result = invoke("predict", review_table["parquet"], "--model", bundle, "--engine", "ray",
                    "--num-workers", 2, "--output", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.is_dir() and list(out.glob("*.parquet"))
    assert not list(tmp_path.glob(".preds.parquet.*"))  # no staging folder left behind
    table = pq.read_table(out)
    assert table.column("id").to_pylist() == list(range(300))
    texts = table.column("review").to_pylist()
    assert table.column("predicted_label").to_pylist() == expected_labels(bundle, texts)
    assert {"p_negative", "p_positive", "predicted_score"} <= set(table.column_names)


def test_jsonl_in_jsonl_out_keeps_every_column(bundle, review_table, local_ray, tmp_path):
    out = tmp_path / "preds"
    result = invoke("predict", review_table["jsonl"], "--model", bundle, "--engine", "ray",
                    "--output", out, "--threads", 1)  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for f in sorted(out.iterdir()) for line in f.open(encoding="utf-8")]
    assert [row["id"] for row in rows] == list(range(300))
    texts = [row["review"] for row in rows]
    assert [row["predicted_label"] for row in rows] == expected_labels(bundle, texts)


def test_a_missing_text_column_is_one_error_line_and_no_output(bundle, local_ray, tmp_path):
    source = tmp_path / "reviews.jsonl"
    source.write_text('{"body": "a great film"}\n', encoding="utf-8")
    out = tmp_path / "out"
    result = invoke("predict", source, "--model", bundle, "--engine", "ray", "--output", out)
    assert_one_line_error(result, "no text column", "--text-column")
    assert not out.exists() and not list(tmp_path.glob(".out.*"))


def test_a_tampered_bundle_is_one_error_line_and_no_output(
    bundle, review_table, local_ray, tmp_path
):
    copy = shutil.copytree(bundle, tmp_path / "bundle")
    with open(copy / "model.onnx", "ab") as handle:
        handle.write(b"\0")
    out = tmp_path / "out"
    result = invoke("predict", review_table["parquet"], "--model", copy, "--engine", "ray",
                    "--output", out)  # fmt: skip
    assert_one_line_error(result, "does not match its sha256")
    assert not out.exists()


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ((), "pass --output OUT"),
        (("--output", "x", "--format", "csv"), "drop --format"),
        (("--output", "x", "--num-workers", "0"), "--num-workers must be at least 1"),
    ],
)
def test_option_mistakes_are_one_line(bundle, review_table, local_ray, extra, fragment):
    result = invoke(
        "predict", review_table["parquet"], "--model", bundle, "--engine", "ray", *extra
    )
    assert_one_line_error(result, fragment)


def test_ray_options_without_the_ray_engine_are_refused(bundle, review_table):
    result = invoke("predict", review_table["jsonl"], "--model", bundle, "--num-workers", 2)
    assert_one_line_error(result, "--num-workers only apply with --engine ray")


def test_help_and_local_predict_never_import_ray(bundle, tmp_path):
    source = tmp_path / "reviews.txt"
    source.write_text("a great film\n", encoding="utf-8")
    script = (
        "import sys\nfrom senticlf.cli import app\n"
        f"sys.argv = ['senticlf', 'predict', {str(source)!r}, '--model', {str(bundle)!r}]\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        "assert 'ray' not in sys.modules, 'ray imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_csv_with_line_breaks_inside_quotes_keeps_one_row_per_record(bundle, local_ray, tmp_path):
    import csv

    source = tmp_path / "reviews.csv"
    with open(source, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["content", "stars"])
        writer.writerows([["a great film,\nsuperb acting", 5], ["", 3], ["awful and dull", 1]])
    out = tmp_path / "preds.csv"
    result = invoke("predict", source, "--model", bundle, "--engine", "ray", "--output", out)
    assert result.exit_code == 0, result.output
    rows = [
        row for f in sorted(out.glob("*.csv")) for row in csv.DictReader(f.open(encoding="utf-8"))
    ]
    assert [row["stars"] for row in rows] == ["5", "3", "1"]
    assert rows[1]["predicted_label"] == ""  # blank text: no prediction
    assert all(rows[i]["predicted_label"] in ("negative", "positive") for i in (0, 2))


def test_json_array_and_tsv_are_read_as_the_local_engine_reads_them(bundle, local_ray, tmp_path):
    rows = [{"review": "a great film, superb acting"}, {"review": "awful and dull"}]
    (tmp_path / "array.json").write_text(json.dumps(rows), encoding="utf-8")
    (tmp_path / "r.tsv").write_text("review\n" + "".join(r["review"] + "\n" for r in rows))
    for source, suffix in ((tmp_path / "array.json", "json"), (tmp_path / "r.tsv", "csv")):
        out = tmp_path / f"out-{source.stem}"
        result = invoke("predict", source, "--model", bundle, "--engine", "ray", "--output", out)
        assert result.exit_code == 0, result.output
        assert list(out.glob(f"*.{suffix}")), list(out.iterdir())  # JSON Lines, CSV
        assert "predicted_label" in next(out.iterdir()).read_text(encoding="utf-8")


def test_formats_ray_cannot_read_are_one_line_before_ray_starts(bundle, tmp_path):
    import gzip

    zipped = tmp_path / "r.csv.gz"
    zipped.write_bytes(gzip.compress(b"review\ngood\n"))
    text = tmp_path / "r.txt"
    text.write_text("good\n")
    for source in (zipped, text):
        result = invoke("predict", source, "--model", bundle, "--engine", "ray",
                        "--output", tmp_path / "out")  # fmt: skip
        assert_one_line_error(result, "--engine ray reads .parquet, .csv, .tsv", source.name[1:])

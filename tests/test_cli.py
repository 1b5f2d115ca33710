import csv
import json
import os
import subprocess
import tracemalloc

import pytest

from senticlf import artifacts
from tests.helpers import assert_one_line_error, invoke, run_without_training_libraries

RUN_CLI = "from senticlf.cli import app\napp(standalone_mode=False)\n"


@pytest.mark.parametrize(
    "command", [[], ["train"], ["export"], ["predict"], ["evaluate"], ["info"]]
)
def test_help_needs_no_training_library(command):
    result = run_without_training_libraries(RUN_CLI, *command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


# ---------------------------------------------------------------------------- train


def train_args(review_files, base_model, output, *extra):
    return ["train", "--data", review_files["csv"], "--eval-data", review_files["eval_csv"],
            "--base-model", base_model, "--output", output, "--device", "cpu", "--max-length", "64",
            *extra]  # fmt: skip


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("text,label\ngood,1\nbad,0\nok,meh\n", "row 4 has label 'meh'"),
        ("words,label\ngood,1\n", "no text column"),
        ("text,label\ngood,1\n,0\n", "row 3 has an empty 'text'"),
        ("text,label\n" + "good,1\n" * 10, "only positive reviews"),
    ],
)
def test_train_rejects_bad_data_and_writes_nothing(
    tmp_path, tiny_base_model, review_files, content, fragment
):
    data = tmp_path / "bad.csv"
    data.write_text(content)
    files = dict(review_files, csv=data, eval_csv=data)
    result = invoke(*train_args(files, tiny_base_model, tmp_path / "run"))
    assert_one_line_error(result, fragment, str(data))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--batch-size", "-1"], "--batch-size must be at least 1"),
        (["--max-length", "100000"], "--max-length must be between 8 and 8192"),
        (["--max-length", "1024"], "exceeds"),
        (["--truncation", "tail"], "--truncation must be one of"),
    ],
)
def test_train_rejects_bad_options(tmp_path, tiny_base_model, review_files, extra, fragment):
    result = invoke(*train_args(review_files, tiny_base_model, tmp_path / "run", *extra))
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "run").exists()


def test_train_rejects_missing_data_and_models(tmp_path, tiny_base_model, review_files):
    missing = dict(review_files, csv=tmp_path / "nope.csv")
    assert_one_line_error(
        invoke(*train_args(missing, tiny_base_model, tmp_path / "r")), "does not exist"
    )
    unknown = dict(review_files, csv=review_files["csv"].with_suffix(".xlsx"))
    unknown["csv"].write_text("x")
    assert_one_line_error(
        invoke(*train_args(unknown, tiny_base_model, tmp_path / "r")), "unknown format .xlsx"
    )
    empty_model = tmp_path / "empty-model"
    empty_model.mkdir()
    assert_one_line_error(
        invoke(*train_args(review_files, empty_model, tmp_path / "r")), "cannot load base model"
    )
    assert not (tmp_path / "r").exists()


def test_train_reads_ndjson(tmp_path, tiny_base_model, review_files):
    """An .ndjson file is JSON Lines: its rows are read (here the bad label on line 2 is found)."""
    data = tmp_path / "bad.ndjson"
    data.write_text('{"text": "good", "label": 1}\n{"text": "bad", "label": "meh"}\n')
    files = dict(review_files, csv=data, eval_csv=data)
    result = invoke(*train_args(files, tiny_base_model, tmp_path / "run"))
    assert_one_line_error(result, f"{data}: line 2 has label 'meh'")


def test_train_output_that_cannot_be_a_folder(tmp_path, tiny_base_model, review_files):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert_one_line_error(invoke(*train_args(review_files, tiny_base_model, blocker)), "is a file")
    result = invoke(*train_args(review_files, tiny_base_model, blocker / "run"))
    assert_one_line_error(result, "cannot create run folder")


def test_resume_of_a_finished_run_is_refused(trained_run):
    assert_one_line_error(invoke("train", "--resume", trained_run), "already complete")


# ---------------------------------------------------------------------------- export


def test_export_rejects_missing_and_non_runs(tmp_path):
    assert_one_line_error(invoke("export", tmp_path / "nope"), "does not exist")
    (tmp_path / "run.txt").write_text("")
    assert_one_line_error(invoke("export", tmp_path / "run.txt"), "is a file")
    assert_one_line_error(invoke("export", tmp_path), "not a senticlf run")
    # a mistyped preset fails at once, before the run folder is even read
    assert_one_line_error(
        invoke("export", tmp_path / "nope", "--quantize", "--preset", "avx9"), "--preset must be"
    )


# ---------------------------------------------------------------------------- predict


@pytest.fixture
def reviews_txt(tmp_path):
    path = tmp_path / "reviews.txt"
    path.write_text("A wonderful, brilliant film.\n\nAn awful, boring waste.\n", encoding="utf-8")
    return path


def test_predict_text_output_keeps_line_numbers(bundle, reviews_txt):
    result = invoke("predict", reviews_txt, "--model", bundle)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("1\tpositive\t") and lines[2].startswith("3\tnegative\t")
    assert lines[1] == "2\t-\t-\t(blank line)"
    assert "1 blank line(s) reported" in result.stderr


def test_predict_jsonl_and_csv_to_a_file(bundle, reviews_txt, tmp_path):
    out = tmp_path / "out.jsonl"
    assert (
        invoke(
            "predict", reviews_txt, "--model", bundle, "--format", "jsonl", "--output", out
        ).exit_code
        == 0
    )
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["line"] for r in records] == [1, 2, 3]
    assert records[0]["label"] == "positive" and records[1] == {
        "line": 2,
        "label": None,
        "note": "blank line",
    }
    out_csv = tmp_path / "out.csv"
    assert (
        invoke(
            "predict", reviews_txt, "--model", bundle, "--format", "csv", "--output", out_csv
        ).exit_code
        == 0
    )
    assert out_csv.read_text().splitlines()[0] == "line,label,score,p_negative,p_positive,note"


def _write_formats(folder, rows):
    """``rows`` (dicts with a "review") in every format ``predict`` reads as a table."""
    import gzip

    import pyarrow as pa
    import pyarrow.parquet as pq

    jsonl = "".join(json.dumps(row) + "\n" for row in rows)
    csv_text = "review\n" + "".join(f'"{row["review"]}"\n' for row in rows)
    files = {
        "r.csv.gz": gzip.compress(csv_text.encode()),
        "r.jsonl": jsonl.encode(),
        "r.ndjson": jsonl.encode(),
        "lines.json": jsonl.encode(),
        "array.json": json.dumps(rows).encode(),
    }
    for name, content in files.items():
        (folder / name).write_bytes(content)
    pq.write_table(pa.Table.from_pylist(rows), folder / "r.parquet")
    return [folder / name for name in files] + [folder / "r.parquet"]


def test_predict_reads_every_table_format_alike(bundle, tmp_path):
    rows = [{"review": "A wonderful, brilliant film."}, {"review": "An awful, boring waste."}]
    expected = invoke("predict", "-", "--model", bundle, "--format", "jsonl",
                      input="".join(row["review"] + "\n" for row in rows))  # fmt: skip
    labels = [json.loads(line)["label"] for line in expected.stdout.splitlines()]
    for path in _write_formats(tmp_path, rows):
        result = invoke("predict", path, "--model", bundle, "--format", "jsonl")
        assert result.exit_code == 0, (path, result.output)
        assert [json.loads(line)["label"] for line in result.stdout.splitlines()] == labels, path


def test_predict_min_confidence_answers_uncertain_below_it(bundle, reviews_txt, tmp_path):
    plain = invoke("predict", reviews_txt, "--model", bundle, "--format", "jsonl")
    records = [json.loads(line) for line in plain.stdout.splitlines()]
    scores = [r["score"] for r in records if r["label"]]
    cut = (min(scores) + max(scores)) / 2 if min(scores) < max(scores) else max(scores) + 1e-9
    unsure = invoke(
        "predict", reviews_txt, "--model", bundle, "--format", "jsonl",
        "--min-confidence", f"{min(cut, 1.0)}",
    )  # fmt: skip
    assert unsure.exit_code == 0, unsure.output
    for before, after in zip(records, map(json.loads, unsure.stdout.splitlines()), strict=True):
        if before["label"] is None:
            assert after["label"] is None
            continue
        assert after["scores"] == before["scores"] and after["score"] == before["score"]
        assert after["label"] == ("uncertain" if before["score"] < cut else before["label"])
    assert_one_line_error(
        invoke("predict", reviews_txt, "--model", bundle, "--min-confidence", "0"),
        "min confidence must be in (0, 1]",
    )


def test_export_refuses_calibration_data_without_calibrating(trained_run, tmp_path):
    assert_one_line_error(
        invoke(
            "export", trained_run, "--no-calibrate", "--calibration-data", tmp_path / "c.csv",
            "--output", tmp_path / "b",
        ),
        "exclude each other",
    )  # fmt: skip
    assert not (tmp_path / "b").exists()


def test_predict_reads_stdin(bundle):
    result = invoke(
        "predict", "-", "--model", bundle, "--format", "jsonl", input="great film\nawful film\n"
    )
    assert [json.loads(line)["label"] for line in result.stdout.splitlines()] == [
        "positive",
        "negative",
    ]


def test_predict_defaults_to_the_newest_bundle_under_export(
    bundle, reviews_txt, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "export").mkdir()
    os.symlink(bundle, tmp_path / "export" / "toy")
    result = invoke("predict", reviews_txt)
    assert result.exit_code == 0 and "using the newest bundle under export/" in result.stderr


def test_predict_refuses_to_overwrite_and_keeps_old_output_on_failure(bundle, tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("previous results\n")
    good = tmp_path / "in.jsonl"
    good.write_text('{"text": "great"}\n')
    assert_one_line_error(
        invoke("predict", good, "--model", bundle, "--output", out), "already exists"
    )
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "great"}\n' * 1500 + "not json\n")
    result = invoke("predict", broken, "--model", bundle, "--output", out, "--overwrite")
    assert_one_line_error(result, "line 1501 is not valid JSON")
    assert out.read_text() == "previous results\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(b"", "is empty"), (b"caf\xe9\n", "is not UTF-8"), (b"\x00\x01\x02", "is a binary file")],
)
def test_predict_rejects_unreadable_input(bundle, tmp_path, content, fragment):
    path = tmp_path / "in.txt"
    path.write_bytes(content)
    assert_one_line_error(invoke("predict", path, "--model", bundle), fragment)


def test_predict_rejects_bad_paths_and_models(bundle, reviews_txt, tmp_path):
    assert_one_line_error(
        invoke("predict", tmp_path / "nope.txt", "--model", bundle), "does not exist"
    )
    assert_one_line_error(invoke("predict", tmp_path, "--model", bundle), "is a folder")
    assert_one_line_error(
        invoke("predict", reviews_txt, "--model", tmp_path / "none"), "does not exist"
    )
    assert_one_line_error(invoke("predict", reviews_txt, "--model", reviews_txt), "is a file")
    assert_one_line_error(
        invoke("predict", reviews_txt, "--model", tmp_path), "not a senticlf bundle"
    )
    assert_one_line_error(
        invoke("predict", reviews_txt, "--model", bundle, "--format", "xml"), "--format must be"
    )
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    result = invoke("predict", reviews_txt, "--model", bundle, "--output", blocked / "out.txt")
    assert_one_line_error(result, "not a folder")
    assert_one_line_error(
        invoke("predict", reviews_txt, "--model", bundle, "--batch-size", "0"), "batch size"
    )


def test_predict_rejects_a_corrupted_onnx_file(bundle, reviews_txt, tmp_path):
    import shutil

    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    (copy / artifacts.INT8_MODEL).write_bytes(b"garbage")
    assert_one_line_error(
        invoke("predict", reviews_txt, "--model", copy), "model.int8.onnx does not match"
    )


def test_streaming_memory_does_not_grow_with_the_number_of_lines(bundle):
    """Python-side peak allocation for 20,000 vs 100,000 lines stays within a small margin."""
    import senticlf

    classifier = senticlf.load(bundle)

    def peak(n_lines):
        tracemalloc.start()
        for _ in classifier.predict_stream(
            "great film" if i % 2 else "awful film" for i in range(n_lines)
        ):
            pass
        _, peak_bytes = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return peak_bytes

    small, large = peak(20_000), peak(100_000)
    assert large < 1.5 * small + 1_000_000, (small, large)


# ---------------------------------------------------------------------------- write failures


@pytest.fixture
def many_reviews(tmp_path):
    path = tmp_path / "many.txt"
    path.write_text("A wonderful, brilliant film.\nAn awful, boring waste.\n" * 500)
    return path


def test_predict_to_a_full_disk_keeps_the_previous_output(
    bundle, many_reviews, tmp_path, monkeypatch
):
    import errno

    output = tmp_path / "out" / "preds.jsonl"
    output.parent.mkdir()
    output.write_text("previous")

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    result = invoke(
        "predict", many_reviews, "--model", bundle, "--format", "jsonl", "--output", output,
        "--overwrite",
    )  # fmt: skip
    assert_one_line_error(result, "preds.jsonl", "No space left on device")
    assert output.read_text() == "previous" and os.listdir(output.parent) == ["preds.jsonl"]


def test_predict_on_a_really_full_filesystem(bundle, many_reviews, tmp_path):
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(tiny)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("mounting a 16 KiB tmpfs needs root; the injected failure above covers it")
    try:
        (tiny / "preds.jsonl").write_text("previous")
        result = invoke(
            "predict", many_reviews, "--model", bundle, "--format", "jsonl",
            "--output", tiny / "preds.jsonl", "--overwrite",
        )  # fmt: skip
        assert_one_line_error(result, "preds.jsonl", "No space left on device")
        assert (tiny / "preds.jsonl").read_text() == "previous"
        assert os.listdir(tiny) == ["preds.jsonl"]
    finally:
        subprocess.run(["umount", str(tiny)], check=True)


# ---------------------------------------------------------------------------- evaluate


LABELLED = [
        ("A wonderful, brilliant film.", "pos"), ("An awful, boring waste.", "neg"),
        ("Great fun, I loved it.", "positive"), ("Dull and stupid.", "negative"),
        ("Superb acting, moving story.", "1"), ("Terrible plot, poor actors.", "0"),
        ("Excellent music and a great ending.", "pos"), ("I hated this dull movie.", "neg"),
        ("The film was great.", "neg"), ("The movie was awful.", "pos"),
        ("A brilliant director.", "pos"), ("A waste of a story.", "neg"),
]  # fmt: skip


@pytest.fixture
def labelled_csv(tmp_path):
    """Twelve reviews, two of them labelled against their words so the model makes errors."""
    path = tmp_path / "labelled.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["review", "sentiment"])
        writer.writerows(LABELLED)
    return path


def test_evaluate_matches_a_hand_computation_from_the_predictor(bundle, labelled_csv, tmp_path):
    import numpy as np

    import senticlf
    from senticlf.evaluation.calibration import expected_calibration_error

    out = tmp_path / "eval"
    result = invoke(
        "evaluate", bundle, "--data", labelled_csv, "--out", out, "--threads", "1",
        "--target-accuracy", "0.9",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "macro F1" in result.stdout and "Confusion matrix" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "coverage.png", "reliability.png", "report.json", "report.md",
    ]  # fmt: skip
    report = json.loads((out / "report.json").read_text())
    model = report["models"][0]

    texts = [text for text, _ in LABELLED]
    truth = np.array([int(label in ("pos", "positive", "1")) for _, label in LABELLED])
    predictions = senticlf.load(bundle).predict(texts)
    predicted = np.array([int(p.label == "positive") for p in predictions])
    tp = int(np.sum((predicted == 1) & (truth == 1)))
    fp = int(np.sum((predicted == 1) & (truth == 0)))
    fn = int(np.sum((predicted == 0) & (truth == 1)))
    tn = int(np.sum((predicted == 0) & (truth == 0)))
    assert model["metrics"]["confusion_matrix"] == [[tn, fp], [fn, tp]]
    assert model["metrics"]["accuracy"] == pytest.approx((tp + tn) / 12)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn)
    positive_f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    assert model["metrics"]["per_label"]["positive"]["f1"] == pytest.approx(positive_f1)
    scores = np.array([[p.scores["negative"], p.scores["positive"]] for p in predictions])
    assert model["calibration"]["calibrated"]["ece"] == pytest.approx(
        expected_calibration_error(scores, truth), abs=1e-5
    )
    assert model["misclassified"] == 12 - tp - tn
    # The threshold --target-accuracy picks, recomputed from predict's own scores.
    target = model["coverage"]["target"]["reached"]
    if target is not None:
        answered = scores.max(axis=1) >= target["threshold"]
        right = predicted == truth
        assert target["accuracy"] == pytest.approx(right[answered].mean())
        assert target["accuracy"] >= 0.9
        assert target["coverage"] == pytest.approx(answered.mean())
        unsure = senticlf.load(bundle, min_confidence=target["threshold"]).predict(texts)
        assert [p.label != "uncertain" for p in unsure] == answered.tolist()
    assert sum(r["reviews"] for r in model["by_length"]) == 12
    assert "| negative |" in (out / "report.md").read_text()


def test_evaluate_compares_fp32_with_int8_and_two_bundles(bundle, labelled_csv):
    result = invoke("evaluate", bundle, "--data", labelled_csv, "--fp32", "--threads", "1")
    assert result.exit_code == 0, result.output
    assert "(INT8) vs" in result.stdout and "McNemar" in result.stdout
    result = invoke("evaluate", bundle, "--data", labelled_csv, "--compare", bundle)
    assert result.exit_code == 0, result.output
    assert "Same labels on 100.00%" in result.stdout and "McNemar p = 1" in result.stdout


def test_evaluate_rejects_unknown_labels_and_bad_options(bundle, labelled_csv, tmp_path):
    three = tmp_path / "three.csv"
    three.write_text("text,label\ngreat,positive\nmeh,neutral\nawful,negative\n")
    assert_one_line_error(
        invoke("evaluate", bundle, "--data", three), "row 3 has label 'neutral'", str(three)
    )
    (tmp_path / "taken").mkdir()
    assert_one_line_error(
        invoke("evaluate", bundle, "--data", labelled_csv, "--out", tmp_path / "taken"),
        "already exists",
    )
    assert_one_line_error(
        invoke("evaluate", bundle, "--data", labelled_csv, "--fp32", "--compare", bundle),
        "exclude each other",
    )
    assert_one_line_error(
        invoke("evaluate", bundle, "--data", tmp_path / "none.csv"), "does not exist"
    )
    assert_one_line_error(invoke("evaluate", tmp_path, "--data", labelled_csv), "not a senticlf")


def test_evaluate_imports_neither_torch_nor_transformers(bundle, labelled_csv, tmp_path):
    result = run_without_training_libraries(
        RUN_CLI, "evaluate", str(bundle), "--data", str(labelled_csv),
        "--out", str(tmp_path / "out"), "--threads", "1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "report.json").is_file()
    result = run_without_training_libraries(RUN_CLI, "info", str(bundle))
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------------------- info


def test_info_summarises_and_verifies_a_bundle(bundle):
    result = invoke("info", bundle)
    assert result.exit_code == 0, result.output
    assert "negative, positive" in result.stdout and "match their sha256" in result.stdout


def test_info_refuses_a_tampered_or_incomplete_bundle(bundle, tmp_path):
    import shutil

    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    (copy / artifacts.TOKENIZER).write_text("{}")
    assert_one_line_error(invoke("info", copy), "tokenizer.json does not match")
    (copy / artifacts.FP32_MODEL).unlink()
    assert_one_line_error(invoke("info", copy), "model.onnx is missing")
    assert_one_line_error(invoke("info", tmp_path / "nope"), "does not exist")


def test_predict_device_cuda_without_a_gpu_warns_and_runs_on_the_cpu(bundle, reviews_txt):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("a GPU is here: --device cuda runs on it")
    with pytest.warns(UserWarning, match="no CUDAExecutionProvider"):
        result = invoke("predict", reviews_txt, "--model", bundle, "--device", "cuda")
    assert result.exit_code == 0, result.output
    import senticlf

    served = senticlf.load(bundle, device="cpu").model_file  # the CPU's model, never fp16
    assert f"{served}, cpu" in result.stderr
    assert "positive" in result.stdout and "negative" in result.stdout


@pytest.mark.parametrize("command", ["predict", "evaluate", "serve"])
def test_an_unknown_device_is_one_line(bundle, reviews_txt, command):
    args = {
        "predict": ["predict", reviews_txt, "--model", bundle],
        "evaluate": ["evaluate", bundle, "--data", reviews_txt],
        "serve": ["serve", bundle, "--port", "0"],
    }[command]
    assert_one_line_error(invoke(*args, "--device", "gpu"), "--device must be one of cpu, cuda")

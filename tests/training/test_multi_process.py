"""Training under a launcher: two CPU processes (gloo) started by torchrun, as accelerate does
for several GPUs. One run folder, written by the main process only, evaluated over every
validation review exactly once, and interruptible and resumable under the launcher."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from senticlf import artifacts
from tests.conftest import make_reviews

VAL_REVIEWS = 47  # odd: two processes get unequal shares, so padding duplicates would show


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def torchrun(*train_args: str) -> list[str]:
    return [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
        "-m", "senticlf.cli", "train", *train_args,
    ]  # fmt: skip


@pytest.fixture
def odd_eval_csv(tmp_path: Path) -> Path:
    path = tmp_path / "eval.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(make_reviews(VAL_REVIEWS, seed=2))
    return path


def train_args(review_files, eval_csv, base_model, run_dir, epochs: int) -> list[str]:
    return [
        "--data", str(review_files["csv"]), "--eval-data", str(eval_csv), "--full",
        "--base-model", str(base_model), "--output", str(run_dir), "--epochs", str(epochs),
        "--lr", "5e-3", "--max-length", "64", "--device", "cpu",
    ]  # fmt: skip


def test_two_processes_write_one_run_over_every_validation_review(
    tmp_path, review_files, odd_eval_csv, tiny_base_model
):
    run_dir = tmp_path / "run"
    args = train_args(review_files, odd_eval_csv, tiny_base_model, run_dir, epochs=6)
    result = subprocess.run(torchrun(*args), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count("run written to") == 1  # reported once, by the main process
    assert sorted(os.listdir(run_dir)) == sorted(
        [
            artifacts.RUN_CONFIG, artifacts.RUN_METRICS, artifacts.RUN_CURVES,
            artifacts.RUN_ERRORS, artifacts.RUN_TRAIN_CSV, artifacts.RUN_VAL_CSV,
            artifacts.RUN_MODEL_DIR,
        ]
    )  # fmt: skip
    metrics = json.loads((run_dir / artifacts.RUN_METRICS).read_text())
    assert metrics["status"] == "complete" and metrics["val_size"] == VAL_REVIEWS
    for epoch in metrics["epochs"]:  # each accuracy is k/47: no review counted twice or dropped
        correct = epoch["val_accuracy"] * VAL_REVIEWS
        assert abs(correct - round(correct)) < 1e-6, epoch
    best = metrics["best"]["val_accuracy"]
    assert metrics["misclassified"] == round((1 - best) * VAL_REVIEWS)
    assert best >= 0.9 and (run_dir / artifacts.RUN_MODEL_DIR / artifacts.WEIGHTS).is_file()


def test_interrupting_the_launcher_keeps_epochs_and_resume_finishes(
    tmp_path, review_files, odd_eval_csv, tiny_base_model
):
    run_dir = tmp_path / "run"
    args = train_args(review_files, odd_eval_csv, tiny_base_model, run_dir, epochs=30)
    launcher = subprocess.Popen(
        torchrun(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    ledger = run_dir / artifacts.RUN_CHECKPOINT_LEDGER
    deadline = time.monotonic() + 180
    while not ledger.exists() and time.monotonic() < deadline and launcher.poll() is None:
        time.sleep(0.2)
    assert ledger.exists(), launcher.communicate()
    launcher.send_signal(signal.SIGTERM)
    _, stderr = launcher.communicate(timeout=120)
    assert launcher.returncode != 0
    metrics = json.loads((run_dir / artifacts.RUN_METRICS).read_text())
    assert metrics["status"] == "interrupted" and metrics["completed_epochs"] >= 1, stderr[-2000:]
    assert not (run_dir / artifacts.RUN_MODEL_DIR).exists()

    resumed = subprocess.run(
        torchrun("--resume", str(run_dir)), capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    metrics = json.loads((run_dir / artifacts.RUN_METRICS).read_text())
    assert metrics["status"] == "complete" and len(metrics["epochs"]) == 30
    assert [e["epoch"] for e in metrics["epochs"]] == list(range(1, 31))

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from rich.console import Console

from senticlf import artifacts
from senticlf.errors import SenticlfError
from senticlf.training import callbacks
from senticlf.training import trainer as trainer_module
from senticlf.training.config import TrainConfig
from tests.conftest import tiny_config

QUIET = Console(quiet=True)


def read_metrics(run_dir):
    return json.loads((run_dir / artifacts.RUN_METRICS).read_text())


def test_loss_falls_and_accuracy_rises(trained_run):
    epochs = read_metrics(trained_run)["epochs"]
    assert len(epochs) == 6
    assert epochs[-1]["train_loss"] < 0.8 * epochs[0]["train_loss"]
    assert epochs[-1]["val_loss"] < epochs[0]["val_loss"]
    assert max(e["val_accuracy"] for e in epochs) >= 0.9
    # training accuracy comes from the training steps' own logits, every epoch
    assert all(0 <= e["train_accuracy"] <= 1 for e in epochs)
    assert epochs[-1]["train_accuracy"] > epochs[0]["train_accuracy"]


def test_run_folder_holds_every_artifact(trained_run):
    metrics = read_metrics(trained_run)
    assert metrics["status"] == "complete"
    best = max(metrics["epochs"], key=lambda e: e["val_accuracy"])
    assert metrics["best_epoch"] == best["epoch"]
    for key in ("val_accuracy", "val_f1", "val_precision", "val_recall", "train_loss", "val_loss"):
        assert best[key] >= 0 and (key.endswith("loss") or best[key] <= 1)
    assert {"torch", "transformers", "senticlf"} <= set(metrics["versions"])
    assert metrics["device"].startswith("cpu") and metrics["wall_time_s"] > 0
    assert (trained_run / artifacts.RUN_CURVES).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(trained_run / artifacts.RUN_ERRORS, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == metrics["misclassified"]
    # errors.csv must line up with the reviews: as many errors as the best epoch's accuracy says
    expected_errors = (1 - metrics["best"]["val_accuracy"]) * metrics["val_size"]
    assert abs(metrics["misclassified"] - expected_errors) <= 1
    assert (
        not (model_dir := trained_run / artifacts.RUN_MODEL_DIR)
        .joinpath("training_args.bin")
        .exists()
    )
    assert sum(metrics["error_groups"].values()) >= len(rows)
    model_dir = trained_run / artifacts.RUN_MODEL_DIR
    assert (model_dir / "model.safetensors").is_file() and (model_dir / "tokenizer.json").is_file()
    assert not (trained_run / artifacts.RUN_CHECKPOINTS_DIR).exists()  # best weights are in model/
    assert not (trained_run / artifacts.RUN_CHECKPOINT_LEDGER).exists()
    saved = TrainConfig.load(trained_run)
    assert saved.max_length == 64 and saved.truncation == "head+tail"


def test_subset_csvs_are_what_the_run_used(trained_run, review_files):
    from senticlf import data

    assert sorted(data.read_table(trained_run / artifacts.RUN_TRAIN_CSV)) == sorted(
        data.read_table(review_files["csv"])
    )
    assert len(data.read_table(trained_run / artifacts.RUN_VAL_CSV)) == 48


def test_existing_run_is_not_overwritten(trained_run, review_files, tiny_base_model):
    before = (trained_run / artifacts.RUN_METRICS).read_text()
    with pytest.raises(SenticlfError, match="already exists"):
        trainer_module.train(tiny_config(review_files, tiny_base_model), trained_run, console=QUIET)
    assert (trained_run / artifacts.RUN_METRICS).read_text() == before


def test_max_length_above_the_model_limit_writes_nothing(tmp_path, review_files, tiny_base_model):
    config = tiny_config(review_files, tiny_base_model, max_length=4096)
    with pytest.raises(SenticlfError, match="exceeds .* limit of 128"):
        trainer_module.train(config, tmp_path / "run", console=QUIET)
    assert not (tmp_path / "run").exists()


def test_interrupted_run_keeps_its_epochs_and_resumes(
    tmp_path, review_files, tiny_base_model, monkeypatch
):
    run_dir = tmp_path / "run"
    original = callbacks.CheckpointLedger.on_save

    def save_then_interrupt(self, args, state, control, **kwargs):
        original(self, args, state, control, **kwargs)
        if round(state.epoch) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(callbacks.CheckpointLedger, "on_save", save_then_interrupt)
    config = tiny_config(review_files, tiny_base_model, epochs=4)
    with pytest.raises(SenticlfError, match="--resume"):
        trainer_module.train(config, run_dir, console=QUIET)
    metrics = read_metrics(run_dir)
    assert metrics["status"] == "interrupted" and metrics["completed_epochs"] == 2
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2]
    assert not (run_dir / artifacts.RUN_MODEL_DIR).exists()  # no model that looks finished

    monkeypatch.setattr(callbacks.CheckpointLedger, "on_save", original)
    resumed = trainer_module.train(TrainConfig.load(run_dir), run_dir, resume=True, console=QUIET)
    assert resumed["status"] == "complete"
    assert [e["epoch"] for e in resumed["epochs"]] == [1, 2, 3, 4]
    assert (run_dir / artifacts.RUN_MODEL_DIR / "model.safetensors").is_file()


def test_sigterm_stops_training_cleanly(tmp_path, review_files, tiny_base_model):
    run_dir = tmp_path / "run"
    command = [
        sys.executable, "-m", "senticlf.cli", "train", "--data", str(review_files["csv"]),
        "--eval-data", str(review_files["eval_csv"]), "--base-model", str(tiny_base_model),
        "--output", str(run_dir), "--epochs", "200", "--max-length", "64", "--lr", "1e-3",
        "--device", "cpu", "--full",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ledger = run_dir / artifacts.RUN_CHECKPOINT_LEDGER
    deadline = time.monotonic() + 120
    while not ledger.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert ledger.exists(), process.communicate()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2, stderr
    assert "Traceback" not in stderr and "senticlf train --resume" in stderr
    metrics = read_metrics(run_dir)
    assert metrics["status"] == "interrupted" and metrics["completed_epochs"] >= 1
    assert os.path.isdir(run_dir / artifacts.RUN_CHECKPOINTS_DIR)


def test_a_full_disk_while_checkpointing_is_one_clear_error(
    tmp_path, review_files, tiny_base_model, monkeypatch
):
    import errno

    from transformers import Trainer

    original = Trainer._save_checkpoint
    calls = []

    def fill_the_disk(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the first epoch's checkpoint is written, the second's is not
            target = os.path.join(self.args.output_dir, "checkpoint-x", "optimizer.pt")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), target)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "_save_checkpoint", fill_the_disk)
    run_dir = tmp_path / "run"
    config = tiny_config(review_files, tiny_base_model, epochs=3)
    with pytest.raises(SenticlfError) as failure:
        trainer_module.train(config, run_dir, console=QUIET)
    message = str(failure.value)
    assert "optimizer.pt: No space left on device" in message and "--resume" in message
    assert "\n" not in message
    kept = sorted(p.name for p in (run_dir / artifacts.RUN_CHECKPOINTS_DIR).iterdir())
    assert kept == [run_folder_checkpoint(run_dir)]  # the partial checkpoint is gone
    assert not (run_dir / artifacts.RUN_MODEL_DIR).exists()


def run_folder_checkpoint(run_dir):
    return json.loads((run_dir / artifacts.RUN_CHECKPOINT_LEDGER).read_text())["last_checkpoint"]

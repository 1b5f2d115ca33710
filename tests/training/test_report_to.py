"""``train --report-to``: the Trainer's own integrations, offline, on the tiny model.

TensorBoard's event files and MLflow's local file store are read back with each tool's own
reader; nothing here may reach a network (telemetry and W&B are switched off).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from rich.console import Console

from senticlf import artifacts
from senticlf.errors import SenticlfError
from senticlf.training.config import REPORT_TO
from senticlf.training.trainer import check_report_to, train
from tests.conftest import tiny_config
from tests.helpers import assert_one_line_error, invoke

EPOCHS = 2
# A smaller run than the session's trained_run: the trackers only need two epochs of logs.
SMALL = dict(epochs=EPOCHS, train_size=48, val_size=16, max_length=32)


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "WANDB_MODE": "disabled",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "HF_HUB_OFFLINE": "1",
    }.items():
        monkeypatch.setenv(name, value)


def test_tensorboard_gets_the_loss_and_the_validation_accuracy_per_epoch(
    tmp_path: Path, review_files, tiny_base_model
) -> None:
    pytest.importorskip("tensorboard", reason="needs tensorboard (dev extra)")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = tmp_path / "run"
    config = tiny_config(review_files, tiny_base_model, report_to="tensorboard", **SMALL)
    metrics = train(config, run_dir, console=Console(quiet=True))
    assert json.loads((run_dir / artifacts.RUN_CONFIG).read_text())["report_to"] == "tensorboard"
    (events,) = (run_dir / artifacts.RUN_LOGS_DIR).glob("**/events.out.tfevents.*")
    accumulator = EventAccumulator(str(events.parent)).Reload()
    scalars = accumulator.Tags()["scalars"]
    assert {"train/loss", "eval/accuracy", "eval/loss"} <= set(scalars), scalars
    losses = [event.value for event in accumulator.Scalars("train/loss")]
    accuracies = [event.value for event in accumulator.Scalars("eval/accuracy")]
    assert len(losses) == len(accuracies) == EPOCHS
    # the same figures as the run's own metrics.json
    expected = [epoch["val_accuracy"] for epoch in metrics["epochs"]]
    assert accuracies == pytest.approx(expected, abs=1e-6)
    assert losses == pytest.approx([e["train_loss"] for e in metrics["epochs"]], rel=1e-5)


def test_mlflow_gets_the_run_in_its_local_file_store(
    tmp_path: Path, review_files, tiny_base_model, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("mlflow", reason="needs mlflow (mlflow-skinny is enough)")
    from mlflow.tracking import MlflowClient

    store = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    # MLflow 3 keeps the file store only on request (its database stores need SQLAlchemy,
    # which mlflow-skinny leaves out); the test wants a local store that needs no server.
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "senticlf-test")
    run_dir = tmp_path / "toy-mlflow"
    config = tiny_config(review_files, tiny_base_model, report_to="mlflow", **SMALL)
    metrics = train(config, run_dir, console=Console(quiet=True))
    client = MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name("senticlf-test")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == "toy-mlflow" and run.info.status == "FINISHED"
    history = client.get_metric_history(run.info.run_id, "eval_accuracy")
    expected = [epoch["val_accuracy"] for epoch in metrics["epochs"]]
    assert [m.value for m in sorted(history, key=lambda m: m.step)] == pytest.approx(expected)
    assert len(client.get_metric_history(run.info.run_id, "loss")) == EPOCHS


def test_an_mlflow_store_that_cannot_open_is_one_line_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("mlflow", reason="needs mlflow (mlflow-skinny is enough)")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "false")  # MLflow 3 refuses a file store
    with pytest.raises(SenticlfError, match="cannot open MLflow's tracking store file:"):
        check_report_to("mlflow")


@pytest.mark.parametrize("tracker", [name for name in REPORT_TO if name != "none"])
def test_a_missing_tracker_is_one_line_before_training(
    tracker: str, tmp_path: Path, review_files, tiny_base_model
) -> None:
    if importlib.util.find_spec(REPORT_TO[tracker]) is not None:
        pytest.skip(f"{tracker} is installed here")
    with pytest.raises(SenticlfError, match=f"pip install {REPORT_TO[tracker]}"):
        check_report_to(tracker)
    result = invoke(
        "train", "--data", review_files["csv"], "--base-model", tiny_base_model,
        "--report-to", tracker, "--output", tmp_path / "run", "--device", "cpu",
    )  # fmt: skip
    assert_one_line_error(result, f"--report-to {tracker} needs the {REPORT_TO[tracker]} package")
    assert not (tmp_path / "run").exists()  # refused before the run folder was made


def test_an_unknown_tracker_is_refused(tmp_path: Path) -> None:
    assert_one_line_error(
        invoke("train", "--report-to", "comet", "--output", tmp_path / "run"),
        "--report-to must be one of none, tensorboard, mlflow, wandb, got 'comet'",
    )

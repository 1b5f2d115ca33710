import pytest

from senticlf import artifacts
from senticlf.errors import SenticlfError
from senticlf.training import run_folder


def test_a_corrupt_metrics_file_is_a_clear_error(tmp_path):
    (tmp_path / artifacts.RUN_METRICS).write_text("{not json")
    with pytest.raises(SenticlfError, match="metrics.json is corrupted"):
        artifacts.read_run_metrics(tmp_path)
    with pytest.raises(SenticlfError, match="corrupted"):
        run_folder.write_status(tmp_path, "running")


def test_status_updates_keep_what_was_there(tmp_path):
    assert artifacts.read_run_metrics(tmp_path) == {}
    run_folder.write_status(tmp_path, "running", completed_epochs=1)
    run_folder.write_status(tmp_path, "interrupted")
    assert artifacts.read_run_metrics(tmp_path) == {"status": "interrupted", "completed_epochs": 1}


def test_only_a_checkpoint_named_in_the_ledger_is_resumed_from(tmp_path):
    assert run_folder.last_good_checkpoint(tmp_path) is None
    (tmp_path / artifacts.RUN_CHECKPOINTS_DIR / "checkpoint-20").mkdir(parents=True)
    (tmp_path / artifacts.RUN_CHECKPOINTS_DIR / "checkpoint-30").mkdir()  # cut short: not recorded
    run_folder.record_checkpoint(tmp_path, 20, 2.0)
    assert run_folder.last_good_checkpoint(tmp_path).endswith("checkpoint-20")
    assert artifacts.read_run_metrics(tmp_path)["completed_epochs"] == 2
    (tmp_path / artifacts.RUN_CHECKPOINT_LEDGER).write_text("[]")
    with pytest.raises(SenticlfError, match="corrupted"):
        run_folder.last_good_checkpoint(tmp_path)


def test_an_unfinished_run_cannot_be_exported(tmp_path, trained_run):
    with pytest.raises(SenticlfError, match="does not exist"):
        run_folder.finished_run(tmp_path / "nope")
    config, metrics = run_folder.finished_run(trained_run)
    assert metrics["status"] == artifacts.RUN_COMPLETE and config.max_length == 64


def test_a_failed_checkpoint_write_leaves_only_recorded_checkpoints(tmp_path):
    folder = tmp_path / artifacts.RUN_CHECKPOINTS_DIR
    for step in (10, 20, 30):
        (folder / f"checkpoint-{step}").mkdir(parents=True)
    run_folder.record_checkpoint(tmp_path, 20, 2.0)
    run_folder.drop_unrecorded_checkpoints(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoint-10", "checkpoint-20"]


@pytest.mark.parametrize(("teacher", "command"), [(None, "train"), ("runs/teacher", "distill")])
def test_an_unfinished_run_is_resumed_with_the_command_that_made_it(tmp_path, teacher, command):
    import json

    from senticlf.training.config import TrainConfig

    config = TrainConfig().to_dict()
    if teacher:
        config["teacher"] = teacher  # what DistillConfig saves
    (tmp_path / artifacts.RUN_CONFIG).write_text(json.dumps(config))
    artifacts.write_run_metrics(tmp_path, {"status": "interrupted"})
    with pytest.raises(SenticlfError) as info:
        run_folder.finished_run(tmp_path)
    assert str(info.value).endswith(f"finish it with: senticlf {command} --resume {tmp_path}")

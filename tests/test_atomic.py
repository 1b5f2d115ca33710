import os

import pytest

from senticlf import atomic
from senticlf.errors import SenticlfError


def test_failed_write_leaves_previous_file_untouched(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic.atomic_open(target) as handle:
        handle.write("half of the new")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["metrics.json"]  # no temporary file left behind


def test_failed_folder_build_keeps_the_previous_folder(tmp_path):
    target = tmp_path / "bundle"
    target.mkdir()
    (target / "model.onnx").write_text("previous")
    with pytest.raises(RuntimeError), atomic.atomic_dir(target, overwrite=True) as staging:
        (staging / "model.onnx").write_text("partial")
        raise RuntimeError("export failed")
    assert (target / "model.onnx").read_text() == "previous"
    assert sorted(os.listdir(tmp_path)) == ["bundle"]


def test_existing_folder_needs_overwrite(tmp_path):
    (tmp_path / "bundle").mkdir()
    with pytest.raises(SenticlfError, match="--overwrite"), atomic.atomic_dir(tmp_path / "bundle"):
        pass


def test_unwritable_destination_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SenticlfError, match="not a folder"):
        atomic.write_text(blocker / "out.json", "{}")
    with pytest.raises(SenticlfError, match="it is a folder"):
        atomic.write_text(tmp_path, "{}")

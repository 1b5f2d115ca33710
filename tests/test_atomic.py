import errno
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


@pytest.fixture
def umask_027():
    previous = os.umask(0o027)
    yield
    os.umask(previous)


def test_written_files_get_the_mode_open_would_give(tmp_path, umask_027):
    atomic.write_text(tmp_path / "preds.jsonl", "{}")
    assert oct(os.stat(tmp_path / "preds.jsonl").st_mode & 0o777) == oct(0o640)
    with atomic.atomic_dir(tmp_path / "bundle") as staging:
        (staging / "sub").mkdir()
        (staging / "sub" / "model.onnx").write_bytes(b"x")
        atomic.write_text(staging / "senticlf.json", "{}")
    assert oct(os.stat(tmp_path / "bundle").st_mode & 0o777) == oct(0o750)
    assert oct(os.stat(tmp_path / "bundle" / "sub").st_mode & 0o777) == oct(0o750)
    assert oct(os.stat(tmp_path / "bundle" / "senticlf.json").st_mode & 0o777) == oct(0o640)
    assert oct(os.stat(tmp_path / "bundle" / "sub" / "model.onnx").st_mode & 0o777) == oct(0o640)
    assert atomic.current_umask() == 0o027


def test_a_full_disk_is_one_clear_error_and_keeps_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "preds.jsonl"
    target.write_text("previous")

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(SenticlfError, match=r"cannot write .*preds.jsonl: No space left on device"):
        atomic.write_text(target, "new")
    assert target.read_text() == "previous" and os.listdir(tmp_path) == ["preds.jsonl"]


def test_a_write_error_inside_a_folder_build_names_the_file(tmp_path):
    def read_only(path):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    message = r"cannot write .*model.onnx: Read-only file system"
    with pytest.raises(SenticlfError, match=message), atomic.atomic_dir(tmp_path / "b") as staging:
        read_only(staging / "model.onnx")
    assert os.listdir(tmp_path) == []


def test_other_os_errors_are_bugs_and_keep_their_traceback(tmp_path):
    with pytest.raises(FileNotFoundError), atomic.atomic_open(tmp_path / "x") as handle:
        handle.write("x")
        raise FileNotFoundError(errno.ENOENT, "gone")

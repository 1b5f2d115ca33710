import json

import pytest

from senticlf import artifacts
from senticlf.errors import SenticlfError


def make_bundle(folder):
    (folder / "model.onnx").write_bytes(b"model bytes")
    manifest = artifacts.Manifest(
        max_length=64, truncation="head+tail", base_model="tiny",
        files=artifacts.hash_files(folder, ["model.onnx"]),
    )  # fmt: skip
    manifest.write(folder)
    return manifest


def test_manifest_round_trips_and_verifies(tmp_path):
    written = make_bundle(tmp_path)
    assert artifacts.read_manifest(tmp_path) == written


def test_a_changed_file_or_unknown_truncation_is_refused(tmp_path):
    make_bundle(tmp_path)
    (tmp_path / "model.onnx").write_bytes(b"model bytez")
    with pytest.raises(SenticlfError, match="does not match its sha256"):
        artifacts.read_manifest(tmp_path)
    assert artifacts.read_manifest(tmp_path, verify=False).max_length == 64
    data = json.loads((tmp_path / artifacts.MANIFEST).read_text())
    data["truncation"] = "middle"
    (tmp_path / artifacts.MANIFEST).write_text(json.dumps(data))
    with pytest.raises(SenticlfError, match=r"truncation must be one of head, head\+tail"):
        artifacts.read_manifest(tmp_path, verify=False)


def test_sha256_matches_hashlib(tmp_path):
    import hashlib

    path = tmp_path / "blob"
    path.write_bytes(b"x" * (3 << 20))  # several 1 MiB blocks
    assert artifacts.sha256_of(path) == hashlib.sha256(path.read_bytes()).hexdigest()

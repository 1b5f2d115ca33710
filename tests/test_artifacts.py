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


def test_the_calibrator_is_written_once_and_an_old_temperature_is_read_as_one(tmp_path):
    manifest = make_bundle(tmp_path)
    manifest.calibration = {"kind": "platt", "scale": 0.5, "bias": 0.1}
    manifest.write(tmp_path)
    data = json.loads((tmp_path / artifacts.MANIFEST).read_text())
    assert "temperature" not in data and data["calibration"] == manifest.calibration
    # a bundle from before calibrators: a temperature only (calibration null or absent)
    for old in ({"calibration": None}, {}):
        data.pop("calibration")
        (tmp_path / artifacts.MANIFEST).write_text(json.dumps({**data, **old, "temperature": 1.7}))
        read = artifacts.read_manifest(tmp_path)
        assert read.calibration == {"kind": "temperature", "temperature": 1.7}
        data["calibration"] = None


def test_the_export_checks_calibration_round_trips_and_old_records_still_load():
    check = artifacts.CalibrationCheck(
        kind="platt", description="Platt scale 0.500, bias +0.100", temperature=2.0,
        source="reviews.csv", reviews=300, accuracy_before=0.86, accuracy_after=0.87,
        ece_before=0.06, ece_after=0.01, nll_before=0.4, nll_after=0.3, cv_log_loss=0.31,
        cv_ece=0.02, candidates={"temperature": {"log_loss": 0.32, "ece": 0.03}},
        validation_accuracy_after=0.875,
    )  # fmt: skip
    export_check = artifacts.ExportCheck(200, 0.86, 0.86, 1e-5, "none", calibration=check)
    back = artifacts.ExportCheck.from_dict(json.loads(json.dumps(export_check.to_dict())))
    assert back == export_check and back.calibration == check
    # bundles from before the choice of calibrators recorded a temperature fit only
    old = artifacts.ExportCheck.from_dict(
        {"calibration": {"temperature": 1.7, "reviews": 200, "ece_before": 0.061}}
    )
    assert old.calibration == artifacts.CalibrationCheck(
        temperature=1.7, reviews=200, ece_before=0.061
    )
    assert old.calibration.kind is None and old.calibration.cv_ece is None

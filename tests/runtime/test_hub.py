"""Bundles by Hub id, offline: a Hugging Face cache laid out here, read by huggingface_hub itself.

No test reaches the Hub: the bundle is put into a temporary cache in the layout
huggingface_hub writes (``models--org--name/{blobs,snapshots/<commit>,refs}``), and
``HF_HUB_CACHE`` / ``HF_HUB_OFFLINE`` point senticlf at it, as a user's machine would after
one download.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import senticlf
from senticlf import artifacts
from senticlf.runtime import hub
from tests.helpers import assert_one_line_error, cache_bundle, invoke

huggingface_hub = pytest.importorskip("huggingface_hub", reason="needs the hub extra")
from huggingface_hub import constants as hub_constants  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MAIN = "a" * 40  # the commit refs/main points at
V2 = "b" * 40  # the commit of branch v2


def second_version(bundle: Path, folder: Path) -> Path:
    """A copy of ``bundle`` whose manifest says which version it is (its files are unchanged)."""
    shutil.copytree(bundle, folder)
    manifest = json.loads((folder / artifacts.MANIFEST).read_text())
    manifest["senticlf_version"] = "v2"
    (folder / artifacts.MANIFEST).write_text(json.dumps(manifest))
    return folder


@pytest.fixture
def cache(tmp_path: Path, bundle: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """org/tiny in an offline Hub cache: main is ``bundle``, branch v2 a second version."""
    root = tmp_path / "hub"
    cache_bundle(root, "org/tiny", bundle, MAIN, ["main"])
    cache_bundle(root, "org/tiny", second_version(bundle, tmp_path / "v2"), V2, ["v2"])
    monkeypatch.setenv("HF_HUB_CACHE", str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # huggingface_hub read the environment when first imported (transformers did, in this
    # process); a fresh process reads the variables alone (the last test shows it).
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(root))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    # huggingface_hub caches its HTTP session with the offline adapter mounted: drop it on the
    # way out too, or later tests' clients (InferenceClient on loopback) stay offline.
    huggingface_hub.utils.reset_sessions()
    yield root
    huggingface_hub.utils.reset_sessions()


def test_the_cache_is_laid_out_as_huggingface_hub_reads_it(cache: Path) -> None:
    info = huggingface_hub.scan_cache_dir(cache)
    (repo,) = info.repos
    assert repo.repo_id == "org/tiny" and repo.repo_type == "model"
    refs = {rev.commit_hash: set(rev.refs) for rev in repo.revisions}
    assert refs == {MAIN: {"main"}, V2: {"v2"}}
    assert not info.warnings


def test_a_hub_id_loads_from_the_cache_offline(cache: Path, bundle: Path) -> None:
    clf = senticlf.load("org/tiny")
    assert clf.bundle_dir == cache / "models--org--tiny" / "snapshots" / MAIN
    assert clf.manifest.senticlf_version != "v2"
    texts = ["a great film", "an awful film"]
    assert clf.predict(texts) == senticlf.load(bundle).predict(texts)
    assert hub.bundle_name(clf.bundle_dir) == "tiny"  # the server's default model name


@pytest.mark.parametrize("revision", ["v2", V2])
def test_a_revision_picks_its_snapshot(cache: Path, revision: str) -> None:
    clf = senticlf.load(f"org/tiny@{revision}")
    assert clf.bundle_dir.name == V2
    assert clf.manifest.senticlf_version == "v2"


def test_a_local_folder_wins_over_the_hub(
    cache: Path, bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    second_version(bundle, tmp_path / "org" / "tiny")
    clf = senticlf.load("org/tiny")
    assert clf.bundle_dir == Path("org/tiny") and clf.manifest.senticlf_version == "v2"


def test_the_cli_takes_a_hub_id(cache: Path, tmp_path: Path) -> None:
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("a great film\nan awful film\n")
    result = invoke("predict", reviews, "--model", "org/tiny@v2", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    assert len([json.loads(line) for line in result.stdout.splitlines()]) == 2
    info = invoke("info", "org/tiny")
    assert info.exit_code == 0, info.output
    assert "files match their sha256" in info.stdout and "org/tiny" in info.stdout


def test_a_tampered_blob_is_refused_like_a_tampered_file(cache: Path) -> None:
    blobs = sorted((cache / "models--org--tiny" / "blobs").iterdir())
    onnx = next(b for b in blobs if b.stat().st_size > 10_000)
    with open(onnx, "ab") as handle:
        handle.write(b"tampered")
    assert_one_line_error(invoke("info", "org/tiny"), "does not match its sha256")


def test_an_id_missing_offline_is_one_error_line(cache: Path, tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_text("fine\n")
    line = assert_one_line_error(
        invoke("predict", tmp_path / "r.txt", "--model", "org/missing"),
        "org/missing is not in the Hugging Face cache",
        "HF_HUB_OFFLINE is set",
    )
    assert str(cache) in line
    assert_one_line_error(invoke("info", "org/tiny@v3"), "org/tiny@v3 is not in the Hugging")
    with pytest.raises(senticlf.SenticlfError, match="no folder org/missing here"):
        senticlf.load("org/missing")


def test_without_network_the_cache_still_serves(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Online mode with an unreachable Hub (a refused loopback port): cached ids load, the
    others fail in one line; huggingface_hub falls back to its cache by itself."""
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub_constants, "ENDPOINT", "http://127.0.0.1:9")
    assert senticlf.load("org/tiny@v2").manifest.senticlf_version == "v2"
    with pytest.raises(senticlf.SenticlfError, match=r"cannot be reached \(no network\)"):
        senticlf.load("org/missing")


def test_without_huggingface_hub_the_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails
    with pytest.raises(senticlf.SenticlfError, match=r'pip install "senticlf\[hub\]"'):
        senticlf.load("org/tiny")


def test_the_environment_alone_points_a_fresh_process_at_the_cache(
    cache: Path, tmp_path: Path
) -> None:
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("a great film\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "senticlf.cli", "predict", str(reviews), "--model"]
    found = subprocess.run([*command, "org/tiny"], capture_output=True, text=True, env=env)
    assert found.returncode == 0, found.stderr
    assert "a great film" in found.stdout and f"snapshots/{MAIN}" in found.stderr
    missing = subprocess.run([*command, "org/gone"], capture_output=True, text=True, env=env)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "org/gone is not in the Hugging Face cache" in missing.stderr


@pytest.mark.parametrize(
    ("reference", "parsed"),
    [
        ("org/name", ("org/name", None)),
        ("org/name@v2", ("org/name", "v2")),
        ("org/name@refs/pr/1", ("org/name", "refs/pr/1")),
        ("my-org/bundle.int8", ("my-org/bundle.int8", None)),
        ("./org/name", None),
        ("/srv/bundles/name", None),
        ("export/a/b", None),
        ("name", None),
        ("org/name@", None),
        ("org/name@a@b", None),
    ],
)
def test_what_counts_as_a_hub_id(reference: str, parsed) -> None:
    assert hub.parse_hub_id(reference) == parsed


def test_a_missing_path_that_is_no_hub_id_keeps_its_own_error(tmp_path: Path) -> None:
    assert hub.resolve_bundle(tmp_path / "nope") == tmp_path / "nope"
    assert_one_line_error(invoke("info", tmp_path / "nope"), "does not exist")

"""Run the CLI in-process and check the one-line-error contract."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from typer.testing import CliRunner

from senticlf.cli import app

runner = CliRunner()


def invoke(*args: str, input: str | None = None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def assert_one_line_error(result, *fragments: str) -> str:
    """Exit code 2, no traceback, a single 'error:' line containing every fragment."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# The libraries the inference paths (predictor, server, Ray workers, evaluation) must not need.
TRAINING_LIBRARIES = ("torch", "transformers", "optimum", "datasets")
_BLOCKER = f"""
import sys

class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {TRAINING_LIBRARIES!r}:
            raise ImportError("blocked: " + name)

sys.meta_path.insert(0, _Block())
"""
_CHECK = f"""
_loaded = [m for m in sys.modules if m.split(".")[0] in {TRAINING_LIBRARIES!r}]
assert not _loaded, _loaded
"""


def run_without_training_libraries(code: str, *argv: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter where torch, transformers, optimum and datasets
    cannot be imported, and fail if any of them was loaded by the end anyway."""
    script = _BLOCKER + textwrap.dedent(code) + _CHECK
    return subprocess.run(
        [sys.executable, "-c", script, *argv], capture_output=True, text=True, timeout=300
    )


def cache_bundle(cache: Path, repo_id: str, bundle: Path, commit: str, refs: list[str]) -> Path:
    """Put ``bundle`` into ``cache`` as huggingface_hub's snapshot_download leaves a repo.

    Files are content-addressed blobs; each snapshot file is a relative symlink to its blob;
    each ref (a branch name) holds the commit hash, without a newline.
    """
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir(exist_ok=True)
    for file in sorted(bundle.iterdir()):
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
        blob = repo / "blobs" / digest
        if not blob.exists():
            shutil.copyfile(file, blob)
        (snapshot / file.name).symlink_to(Path("..", "..", "blobs", digest))
    for ref in refs:
        (repo / "refs" / ref).parent.mkdir(parents=True, exist_ok=True)
        (repo / "refs" / ref).write_text(commit)
    return snapshot

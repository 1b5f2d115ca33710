"""Bundles by Hugging Face Hub id: ``senticlf.load("org/name")``, ``--model org/name@v2``.

Every place that opens a bundle by path (the predictor, ``info``, the Ray driver) passes the
user's string through :func:`resolve_bundle` first. A folder that exists wins, so a local
bundle never touches the network. Otherwise an ``org/name`` (optionally ``@revision``: a
branch, tag or commit) is fetched with huggingface_hub's ``snapshot_download`` into the Hub's
own cache (``HF_HUB_CACHE``, default ``~/.cache/huggingface/hub``), where it stays usable
offline (``HF_HUB_OFFLINE=1``, or no network at all). The manifest comes first, and only the
files it lists follow, so a wrong id never downloads someone else's large checkpoint. The
caller then checks every file against the manifest's sha256 exactly as for a local bundle.

huggingface_hub is imported only when an id is resolved (the ``hub`` extra).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

from senticlf import artifacts
from senticlf.errors import SenticlfError, first_line

INSTALL_HINT = 'pip install "senticlf[hub]"'
# org/name, then optionally @revision. A name that starts with "." or "/" or has more parts is
# a path only: "./runs/x", "/srv/bundles/x", "export/a/b".
_HUB_ID = re.compile(r"^(?P<repo>[A-Za-z0-9][\w.-]*/[\w.-]+)(?:@(?P<revision>[^\s@]+))?$")
_CACHE_REPO = re.compile(r"^models--(?P<org>.+?)--(?P<name>.+)$")


def parse_hub_id(reference: str) -> tuple[str, str | None] | None:
    """(repo id, revision or None) when ``reference`` is shaped like a Hub id, else None."""
    match = _HUB_ID.match(reference)
    if match is None or match["repo"].endswith((".", "-")):
        return None
    return match["repo"], match["revision"]


def resolve_bundle(reference: str | Path) -> Path:
    """The local folder of a bundle: ``reference`` itself when it exists, else a Hub snapshot.

    A reference that is neither an existing path nor shaped like ``org/name[@revision]`` is
    returned as it is, so that the manifest reader reports the missing folder in its own words.
    """
    path = Path(reference)
    if path.exists():
        return path
    parsed = parse_hub_id(str(reference))
    if parsed is None:
        return path
    repo_id, revision = parsed
    return _fetch(repo_id, revision, str(reference))


def bundle_name(bundle_dir: str | Path) -> str:
    """A short name for a bundle folder: the repo's name for a Hub snapshot, else the folder's.

    A snapshot lives at ``.../models--org--name/snapshots/<commit>``; its folder name is a
    commit hash, which would be a poor default model name for a server.
    """
    folder = Path(bundle_dir).resolve()
    repo = _CACHE_REPO.match(folder.parent.parent.name)
    if folder.parent.name == "snapshots" and repo is not None:
        return repo["name"]
    return folder.name


def _fetch(repo_id: str, revision: str | None, reference: str) -> Path:
    """The snapshot of ``repo_id`` at ``revision``: the manifest first, then its files."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise SenticlfError(
            f"{reference} is not a local folder, and loading it from the Hugging Face Hub needs "
            f"huggingface_hub: {INSTALL_HINT}"
        ) from None
    where = f"{repo_id}@{revision}" if revision else repo_id
    with _hub_errors(reference, repo_id, revision):
        manifest_only = Path(
            snapshot_download(repo_id, revision=revision, allow_patterns=[artifacts.MANIFEST])
        )
        if not (manifest_only / artifacts.MANIFEST).is_file():
            raise SenticlfError(
                f"{where} on the Hugging Face Hub has no {artifacts.MANIFEST}: not a senticlf "
                "bundle (publish one made by `senticlf export`)"
            )
        files = artifacts.read_manifest(manifest_only, verify=False).files
        # The same commit for the files as for the manifest, even if the branch moves meanwhile.
        snapshot = snapshot_download(
            repo_id, revision=manifest_only.name, allow_patterns=[artifacts.MANIFEST, *files]
        )
    return Path(snapshot)


@contextlib.contextmanager
def _hub_errors(reference: str, repo_id: str, revision: str | None) -> Iterator[None]:
    """huggingface_hub's exceptions as one-line SenticlfErrors that say what to do."""
    from huggingface_hub.errors import HfHubHTTPError

    try:
        yield
    except SenticlfError:
        raise
    except (OSError, ValueError, HfHubHTTPError) as exc:
        raise SenticlfError(_message(exc, reference, repo_id, revision)) from None


def _message(exc: Exception, reference: str, repo_id: str, revision: str | None) -> str:
    from huggingface_hub import constants
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = f"{repo_id}@{revision}" if revision else repo_id
    no_folder = f"no folder {reference} here, and"
    if isinstance(exc, LocalEntryNotFoundError):
        offline = "HF_HUB_OFFLINE is set" if constants.HF_HUB_OFFLINE else "no network"
        return (
            f"{no_folder} {where} is not in the Hugging Face cache ({constants.HF_HUB_CACHE}) "
            f"while the Hub cannot be reached ({offline}); fetch it once online, or pass a "
            "bundle folder"
        )
    if isinstance(exc, GatedRepoError):
        return f"{repo_id} on the Hugging Face Hub is gated: accept its terms, then `hf auth login`"
    if isinstance(exc, RevisionNotFoundError):
        return f"{repo_id} on the Hugging Face Hub has no revision {revision!r}"
    if isinstance(exc, RepositoryNotFoundError):
        return (
            f"{no_folder} no model {repo_id} on the Hugging Face Hub (a private one needs "
            "`hf auth login` or HF_TOKEN)"
        )
    return f"cannot fetch {where} from the Hugging Face Hub: {first_line(exc)}"

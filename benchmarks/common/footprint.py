"""Installed size of the predictor-only closure versus the training closure.

Sums the files each installed distribution lists in its RECORD, over the dependency closure of
``senticlf`` (base) and ``senticlf[train]``, in the current environment. No new environment is
built, so the numbers are exact for the versions installed here.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def _dist_size(dist: importlib.metadata.Distribution) -> int:
    total = 0
    for file in dist.files or []:
        path = Path(dist.locate_file(file))
        if path.is_file():
            total += path.stat().st_size
    return total


def closure(root: str, extras: tuple[str, ...] = ()) -> set[str]:
    """Names of the installed distributions ``root[extras]`` pulls in, itself included."""
    seen: set[str] = set()
    pending = [(root, extras)]
    while pending:
        name, wanted = pending.pop()
        key = canonicalize_name(name)
        try:
            dist = importlib.metadata.distribution(key)
        except importlib.metadata.PackageNotFoundError:
            continue
        first_visit = key not in seen
        seen.add(key)
        for line in dist.requires or []:
            requirement = Requirement(line)
            marker_ok = requirement.marker is None or any(
                requirement.marker.evaluate({"extra": extra}) for extra in (*wanted, "")
            )
            if marker_ok and (first_visit or wanted):
                child = canonicalize_name(requirement.name)
                if child not in seen or requirement.extras:
                    pending.append((child, tuple(requirement.extras)))
    return seen


def footprint_mb() -> dict[str, float]:
    sizes = {
        canonicalize_name(d.metadata["Name"]): _dist_size(d)
        for d in importlib.metadata.distributions()
    }
    predictor = closure("senticlf")
    training = closure("senticlf", ("train",))
    return {
        "predictor_only_mb": round(sum(sizes.get(n, 0) for n in predictor) / 1e6, 1),
        "training_mb": round(sum(sizes.get(n, 0) for n in training) / 1e6, 1),
        "predictor_packages": len(predictor),
        "training_packages": len(training),
    }

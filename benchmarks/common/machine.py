"""Describe the machine and the libraries, so that every number carries its context."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from typing import Any

from senticlf import cpu

LIBRARIES = (
    "senticlf",
    "torch",
    "transformers",
    "optimum",
    "optimum-onnx",
    "onnxruntime",
    "onnxruntime-gpu",
    "tokenizers",
    "numpy",
)


def versions() -> dict[str, str]:
    found = {}
    for name in LIBRARIES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def describe() -> dict[str, object]:
    return {
        "cpu": cpu.cpu_name(),
        "cores": os.cpu_count(),
        "instruction_sets": cpu.instruction_sets(),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "versions": versions(),
    }


def machine_line(machine: dict[str, Any]) -> str:
    """The 'Machine: ...' line every results Markdown starts with, from :func:`describe`."""
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    return (
        f"Machine: {machine['cpu']}, {machine['cores']} cores, "
        f"{', '.join(machine['instruction_sets'])}; {versions}"
    )

"""Describe the machine and the libraries, so that every number carries its context."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from collections.abc import Sequence
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
NOT_INSTALLED = "not installed"


def versions(libraries: Sequence[str] = ()) -> dict[str, str]:
    """Versions of the stack that is always there (absent ones left out), and of
    ``libraries``, which a command asks for by name (absent ones said to be absent)."""
    found = {}
    for name in LIBRARIES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    for name in libraries:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = NOT_INSTALLED
    return found


def describe(libraries: Sequence[str] = (), gpu: str | None = None) -> dict[str, Any]:
    """The machine record of every result's header; ``gpu`` names the GPU a command ran on."""
    found: dict[str, Any] = {
        "cpu": cpu.cpu_name(),
        "cores": os.cpu_count(),
        "instruction_sets": cpu.instruction_sets(),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "versions": versions(libraries),
    }
    if gpu is not None:
        found["gpu"] = gpu
    return found


def machine_line(machine: dict[str, Any]) -> str:
    """The 'Machine: ...' line every results Markdown starts with, from :func:`describe`."""
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    gpu = f"; GPU: {machine['gpu']}" if machine.get("gpu") else ""
    return (
        f"Machine: {machine['cpu']}, {machine['cores']} cores, "
        f"{', '.join(machine['instruction_sets'])}; {versions}{gpu}"
    )

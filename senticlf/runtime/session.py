"""The one place an ONNX Runtime session is created.

Following fastembed: providers are checked against what the installed onnxruntime offers,
a single ``threads`` argument maps to ONNX Runtime's thread options, and a fallback to the CPU
is announced instead of happening silently.
"""

from __future__ import annotations

import importlib.metadata
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from senticlf.errors import SenticlfError

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"


def default_providers() -> list[str]:
    """CUDA when onnxruntime-gpu sees a GPU, else the CPU."""
    available = ort.get_available_providers()
    return [CUDA, CPU] if CUDA in available else [CPU]


def create_session(
    model_path: str | Path,
    providers: Sequence[str] | None = None,
    threads: int | None = None,
) -> ort.InferenceSession:
    """Open ``model_path`` with all graph optimizations on and the requested providers."""
    _warn_if_both_runtimes_installed()
    requested = list(providers) if providers else default_providers()
    available = ort.get_available_providers()
    usable = [p for p in requested if p in available]
    for missing in (p for p in requested if p not in available):
        warnings.warn(
            f"{missing} is not available in this onnxruntime ({', '.join(available)}); "
            "falling back to the CPU",
            stacklevel=2,
        )
    if CPU not in usable:
        usable.append(CPU)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(model_path), sess_options=options, providers=usable)
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SenticlfError(f"cannot load ONNX model {model_path}: {first_line}") from None


def model_inputs(
    session: ort.InferenceSession, input_ids: np.ndarray, attention_mask: np.ndarray
) -> dict[str, np.ndarray]:
    """The feed a session declares, by name: DistilBERT takes no token_type_ids, BERT does."""
    available = {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "token_type_ids": np.zeros_like(input_ids),
    }
    return {node.name: available[node.name] for node in session.get_inputs()}


def _warn_if_both_runtimes_installed() -> None:
    installed = []
    for dist in ("onnxruntime", "onnxruntime-gpu"):
        try:
            importlib.metadata.version(dist)
            installed.append(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    if len(installed) == 2:
        warnings.warn(
            "both onnxruntime and onnxruntime-gpu are installed and overwrite each other's "
            "module; keep one: pip uninstall -y onnxruntime onnxruntime-gpu && "
            "pip install onnxruntime-gpu",
            stacklevel=3,
        )

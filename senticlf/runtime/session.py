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

from senticlf.errors import SenticlfError, first_line

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
    spinning: bool = True,
) -> ort.InferenceSession:
    """Open ``model_path`` with all graph optimizations on and the requested providers.

    ``threads`` are the intra-op threads of one call; ``spinning=False`` lets them sleep
    between calls instead of busy-waiting, so an idle session does not slow its neighbours.
    """
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
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(model_path), sess_options=options, providers=usable)
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        raise SenticlfError(f"cannot load ONNX model {model_path}: {first_line(exc)}") from None


class ModelRunner:
    """A session plus the names it was built with, read once rather than on every batch.

    DistilBERT takes no token_type_ids and BERT does: the feed is built from the inputs the
    graph declares, by name, as int64. On CUDA each call binds its inputs and its output to
    the device once (I/O binding): one host-to-device copy per input, the logits copied back
    once, and no copies ONNX Runtime would otherwise make between steps. ``io_binding``
    forces it on or off (default: on CUDA only).
    """

    _KNOWN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")

    def __init__(
        self,
        model_path: str | Path,
        providers: Sequence[str] | None = None,
        threads: int | None = None,
        io_binding: bool | None = None,
        spinning: bool = True,
    ) -> None:
        self.session = create_session(model_path, providers, threads, spinning)
        self.input_names = [node.name for node in self.session.get_inputs()]
        unknown = [name for name in self.input_names if name not in self._KNOWN_INPUTS]
        if unknown:
            raise SenticlfError(f"{model_path} expects inputs senticlf cannot feed: {unknown}")
        self.output_name = self.session.get_outputs()[0].name
        # The provider that runs the graph (ONNX Runtime drops CUDA when it cannot start it).
        self.provider = self.session.get_providers()[0]
        self.io_binding = self.provider == CUDA if io_binding is None else io_binding
        self._device = "cuda" if self.provider == CUDA else "cpu"

    def feed(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> dict[str, np.ndarray]:
        """The graph's inputs by name, from a padded batch (token types all zero)."""
        available = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": np.zeros_like(input_ids),
        }
        return {name: available[name] for name in self.input_names}

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feed = self.feed(input_ids, attention_mask)
        if self.io_binding:
            return self._bound_run(feed)
        (logits,) = self.session.run([self.output_name], feed)
        return logits

    def _bound_run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        binding = self.session.io_binding()
        for name, array in feed.items():
            value = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array), self._device, 0)
            binding.bind_ortvalue_input(name, value)
        binding.bind_output(self.output_name, self._device, 0)
        self.session.run_with_iobinding(binding)
        (logits,) = binding.copy_outputs_to_cpu()
        return logits


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

"""Which execution provider runs a bundle, and which of its models suits that provider.

The bundle's models are made for different hardware: dynamic INT8 (DynamicQuantizeLinear,
MatMulInteger) is a CPU recipe that CUDA would run slowly or on the CPU anyway, and fp16 is
what a GPU's tensor cores run fast. So the model follows the provider, decided here once for
the predictor, the server, evaluation and the Ray workers.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import onnxruntime as ort

from senticlf import artifacts
from senticlf.errors import SenticlfError
from senticlf.runtime import plan
from senticlf.runtime.options import check_device
from senticlf.runtime.session import CPU, CUDA, default_providers


def providers_for(device: str | None, providers: Sequence[str] | None = None) -> list[str]:
    """ONNX Runtime providers for ``device`` ("cpu", "cuda"; None: CUDA when it is there).

    Asking for CUDA where this onnxruntime has none (the CPU package, or no GPU) warns and
    runs on the CPU: a script written for a GPU machine still runs elsewhere, and says so.
    """
    check_device(device)
    if providers:
        if device is not None:  # PredictorOptions refuses it too; this function is public
            raise SenticlfError("pass a device or a list of providers, not both")
        return list(providers)
    if device == "cpu":
        return [CPU]
    if device == "cuda":
        if CUDA in ort.get_available_providers():
            return [CUDA, CPU]
        warnings.warn(
            "CUDA was asked for but this onnxruntime has no CUDAExecutionProvider "
            "(install onnxruntime-gpu: see README, GPU); running on the CPU",
            stacklevel=3,
        )
        return [CPU]
    return default_providers()


def choose_model(
    manifest: artifacts.Manifest, provider: str, quantized: bool | None, bundle_dir: Path
) -> str:
    """The model file to run on ``provider``: fp16 (else fp32) on CUDA; on the CPU the faster
    of INT8 and fp32 as export measured them on this CPU model (each at its batch-invariant
    batch size, so where INT8 one text a call loses to fp32 in batches, fp32), INT8 on a CPU
    the bundle was not measured on. ``quantized=False`` means fp32 everywhere, ``True``
    insists on INT8 (CPU only)."""
    files = manifest.files
    has_int8 = artifacts.INT8_MODEL in files
    if provider == CUDA:
        if quantized:
            raise SenticlfError(
                "the INT8 model is made for CPUs; on CUDA senticlf runs the fp16 model (fp32 "
                "with quantized=False); pass device='cpu' (--device cpu) for INT8"
            )
        if quantized is None and artifacts.FP16_MODEL in files:
            return artifacts.FP16_MODEL
        return artifacts.FP32_MODEL
    if quantized and not has_int8:
        raise SenticlfError(f"bundle {bundle_dir} has no INT8 model; export it with --quantize")
    if quantized is not None or not has_int8:
        return artifacts.INT8_MODEL if quantized else artifacts.FP32_MODEL
    speeds = plan.recorded_speeds(manifest)
    if artifacts.INT8_MODEL in speeds and artifacts.FP32_MODEL in speeds:
        return max((artifacts.INT8_MODEL, artifacts.FP32_MODEL), key=speeds.__getitem__)
    return artifacts.INT8_MODEL

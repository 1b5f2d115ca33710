"""Dynamic INT8 quantization with Optimum, from the fastest preset to the safest.

INT8 can collapse a classifier onto one class, so each attempt is re-scored by the caller;
the ladder below is the order in which to give up speed for accuracy.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path
from typing import Any

from senticlf.errors import SenticlfError
from senticlf.export.options import PRESETS

# name, overrides of the preset: per-channel scales, 7-bit weights for CPUs that saturate
# (AVX2/AVX-512 without VNNI), and leaving embeddings/attention (sensitive) in fp32.
LADDER: tuple[tuple[str, dict[str, Any]], ...] = (
    ("per-tensor", {"per_channel": False}),
    ("per-channel", {"per_channel": True}),
    ("per-channel, reduced range", {"per_channel": True, "reduce_range": True}),
    ("per-channel, MatMul only", {"per_channel": True, "operators_to_quantize": ["MatMul"]}),
)


def quantization_config(preset: str, overrides: dict[str, Any]) -> Any:
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    if preset not in PRESETS:
        raise SenticlfError(f"unknown quantization preset {preset!r}; choose from {PRESETS}")
    base = getattr(AutoQuantizationConfig, preset)(is_static=False)
    return dataclasses.replace(base, **overrides)


def _with_inferred_shapes(model_path: Path, scratch: Path) -> Path:
    """Annotate tensor types through fused contrib ops (Attention, SkipLayerNormalization).

    ONNX's own shape inference stops at operators of the com.microsoft domain, and the
    quantizer then cannot type the MatMuls around them; ONNX Runtime's symbolic inference can.
    """
    import onnx
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    model = onnx.load(model_path)
    if not any(node.domain == "com.microsoft" for node in model.graph.node):
        return model_path
    inferred = SymbolicShapeInference.infer_shapes(model, auto_merge=True)
    annotated = scratch / "shapes" / model_path.name
    annotated.parent.mkdir()
    onnx.save(inferred, annotated)
    return annotated


def quantize(fp32_model: Path, target: Path, preset: str, overrides: dict[str, Any]) -> None:
    """Write the INT8 version of ``fp32_model`` to ``target``."""
    from optimum.onnxruntime import ORTQuantizer

    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        source = _with_inferred_shapes(fp32_model, Path(scratch))
        quantizer = ORTQuantizer.from_pretrained(source.parent, file_name=source.name)
        written = quantizer.quantize(
            quantization_config=quantization_config(preset, overrides), save_dir=scratch
        )
        produced = Path(written)
        if produced.is_dir():
            produced = next(produced.glob("*quantized*.onnx"))
        shutil.move(str(produced), target)

"""INT8 quantization: the named ways to make an INT8 model, and which to try on which CPU.

INT8 can collapse a classifier onto one class, so each attempt is re-scored by the caller;
a CPU family's ladder is the order in which to give up speed for accuracy. Every recipe here is
dynamic (activation ranges taken from each call), so the runtime runs INT8 one text per call
(runtime/plan.py). Recipes no ladder tries (u8 weights, static QDQ) live with the
benchmarks that compare them (benchmarks/common/int8_recipes.py). What is fastest
depends on the CPU's integer instructions, so each family has its own ladder, ordered by
measurement (benchmarks/results/speed-*.md for AVX-512 VNNI, int8-variants-avx2*.md for AVX2).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from senticlf.errors import SenticlfError


@dataclass(frozen=True)
class Variant:
    """One INT8 recipe, named so that the manifest and the benchmarks can say which was used.

    ``optimum`` variants apply Optimum's preset of the CPU family (which fixes the integer
    types: u8 weights on AVX2, s8 elsewhere) with these overrides; ``dynamic`` ones call ONNX
    Runtime's dynamic quantizer directly, with weight types of their own. ``reduce_range``
    stores 7-bit weights: without VNNI, the u8 x s8 multiply-add saturates at 16 bits, and
    7 bits keep it exact.
    """

    name: str
    method: str  # "optimum" or "dynamic"
    per_channel: bool
    reduce_range: bool = False
    weights: str = "s8"  # s8 or u8; ignored by "optimum", whose preset decides
    matmul_only: bool = False


VARIANTS = {
    v.name: v
    for v in (
        Variant("per-tensor", "optimum", per_channel=False),
        Variant("per-channel", "optimum", per_channel=True),
        Variant("per-channel reduced-range", "optimum", per_channel=True, reduce_range=True),
        Variant("per-channel matmul-only", "optimum", per_channel=True, matmul_only=True),
        Variant("s8 per-tensor", "dynamic", per_channel=False),
        Variant("s8 per-channel", "dynamic", per_channel=True),
        Variant("s8 per-channel reduced-range", "dynamic", per_channel=True, reduce_range=True),
    )
}

_OPTIMUM_LADDER = (
    "per-tensor",
    "per-channel",
    "per-channel reduced-range",
    "per-channel matmul-only",
)

# Per CPU family, fastest first; the export gate takes the first that keeps accuracy.
# AVX-512 VNNI (measured, results/speed-*.md) and AVX-512/ARM64 (not measured) keep Optimum's
# presets (s8 weights). On AVX2 without VNNI, Optimum's preset uses u8 weights, which were the
# slowest dynamic INT8 there: ONNX Runtime's s8 weights were 1.2-1.3x faster at batch 8 in a
# probe on a quiet AMD EPYC and 20% faster at batch 1 in results/int8-variants-avx2*.md.
# Static QDQ was slower still (fused attention stays fp32), so it is not on any ladder; 7-bit
# per-tensor weights agreed worst with fp32 on the stand-in (85.5%) and were not faster.
LADDERS: dict[str, tuple[str, ...]] = {
    "avx512_vnni": _OPTIMUM_LADDER,
    "avx512": _OPTIMUM_LADDER,
    "arm64": _OPTIMUM_LADDER,
    "avx2": (
        "s8 per-tensor",
        "s8 per-channel",
        "s8 per-channel reduced-range",
        "per-channel matmul-only",
    ),
}


def quantization_config(preset: str, variant: Variant) -> Any:
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    base = getattr(AutoQuantizationConfig, preset)(is_static=False)
    overrides: dict[str, Any] = {
        "per_channel": variant.per_channel,
        "reduce_range": variant.reduce_range,
    }
    if variant.matmul_only:
        overrides["operators_to_quantize"] = ["MatMul"]
    return dataclasses.replace(base, **overrides)


def with_inferred_shapes(model_path: Path, scratch: Path) -> Path:
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


def quantize(fp32_model: Path, target: Path, preset: str, variant: Variant | str) -> None:
    """Write the dynamic INT8 version of ``fp32_model`` to ``target``."""
    if isinstance(variant, str):
        variant = variant_named(variant)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        source = with_inferred_shapes(fp32_model, Path(scratch))
        if variant.method == "optimum":
            produced = _quantize_with_optimum(source, Path(scratch), preset, variant)
        else:
            produced = _quantize_dynamic(source, Path(scratch), variant)
        shutil.move(str(produced), target)


def variant_named(name: str) -> Variant:
    if name not in VARIANTS:
        raise SenticlfError(f"unknown INT8 variant {name!r}; choose from {', '.join(VARIANTS)}")
    return VARIANTS[name]


# ORTQuantizer looks for a transformers config.json beside the ONNX file it is given, and logs
# this warning (optimum/onnxruntime/quantization.py) when there is none. Export quantizes a bare
# ONNX file in a scratch folder on purpose and never loads the result as an ORTModel, so the
# warning says nothing to act on; it is dropped, and nothing else the logger says.
_OPTIMUM_LOGGER = "optimum.onnxruntime.quantization"
_NO_CONFIG_WARNING = "Could not load the config for "


class _DropMessage(logging.Filter):
    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefix)


@contextlib.contextmanager
def _without_config_warning() -> Iterator[None]:
    """Optimum's "Could not load the config" warning dropped while the block runs."""
    logger = logging.getLogger(_OPTIMUM_LOGGER)
    drop = _DropMessage(_NO_CONFIG_WARNING)
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


def _quantize_with_optimum(source: Path, scratch: Path, preset: str, variant: Variant) -> Path:
    from optimum.onnxruntime import ORTQuantizer

    with _without_config_warning():
        quantizer = ORTQuantizer.from_pretrained(source.parent, file_name=source.name)
    written = Path(
        quantizer.quantize(
            quantization_config=quantization_config(preset, variant), save_dir=scratch
        )
    )
    return next(written.glob("*quantized*.onnx")) if written.is_dir() else written


def weight_type(variant: Variant) -> Any:
    from onnxruntime.quantization import QuantType

    return QuantType.QInt8 if variant.weights == "s8" else QuantType.QUInt8


def _quantize_dynamic(source: Path, scratch: Path, variant: Variant) -> Path:
    from onnxruntime.quantization import quantize_dynamic

    produced = scratch / "dynamic.onnx"
    quantize_dynamic(
        source,
        produced,
        per_channel=variant.per_channel,
        reduce_range=variant.reduce_range,
        weight_type=weight_type(variant),
        op_types_to_quantize=["MatMul"] if variant.matmul_only else None,
    )
    return produced

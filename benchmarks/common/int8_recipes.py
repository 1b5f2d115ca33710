"""INT8 recipes that no export ladder tries, kept for the benchmarks that compare them.

u8 weights and static QDQ quantization lost to the ladder's dynamic s8 recipes on every CPU
measured (benchmarks/results/int8-variants-*.md, engines-*.md: static INT8 slower than dynamic
INT8 one review a call, and below the export gate's agreement), so the product
(senticlf/export/quantize.py) does not carry them. Static QDQ is batch-invariant (its
activation ranges are fixed here, from training reviews), which is why the engines benchmark
still measures it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.common import internals
from benchmarks.common.internals import quantize

Feeds = Sequence[dict[str, np.ndarray]]


@dataclass(frozen=True)
class StaticVariant:
    """Static QDQ: MatMuls with activation ranges fixed from calibration reviews (u8 activations)."""

    name: str
    per_channel: bool
    reduce_range: bool = False
    weights: str = "s8"
    method: str = "static"


EXTRA_VARIANTS: dict[str, quantize.Variant | StaticVariant] = {
    v.name: v
    for v in (
        quantize.Variant("s8 per-tensor reduced-range", "dynamic", False, reduce_range=True),
        quantize.Variant("u8 per-tensor", "dynamic", per_channel=False, weights="u8"),
        quantize.Variant("u8 per-channel", "dynamic", per_channel=True, weights="u8"),
        StaticVariant("static s8 per-channel", per_channel=True),
        StaticVariant("static s8 per-tensor", per_channel=False),
    )
}
# Every recipe a benchmark may build: the product's ladders' and the ones above.
ALL_VARIANTS: dict[str, quantize.Variant | StaticVariant] = {
    **quantize.VARIANTS,
    **EXTRA_VARIANTS,
}


def build(
    fp32_model: Path, target: Path, preset: str, name: str, calibration: Feeds | None = None
) -> None:
    """Write recipe ``name`` of ``fp32_model`` to ``target`` (static ones need ``calibration``)."""
    variant = ALL_VARIANTS[name]
    if isinstance(variant, quantize.Variant):
        quantize.quantize(fp32_model, target, preset, variant)
        return
    if not calibration:
        raise ValueError(f"INT8 variant {name!r} needs calibration reviews")
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        source = quantize.with_inferred_shapes(fp32_model, Path(scratch))
        produced = Path(scratch) / "static.onnx"
        _quantize_static(source, produced, variant, calibration)
        shutil.move(str(produced), target)


class _Reader:
    """ONNX Runtime's calibration protocol over a list of feeds."""

    def __init__(self, feeds: Feeds) -> None:
        self._feeds = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def _quantize_static(
    source: Path, produced: Path, variant: StaticVariant, calibration: Feeds
) -> None:
    """QDQ MatMuls only: the fused Attention and LayerNorm ops have no QDQ kernels."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    quantize_static(
        source,
        produced,
        _Reader(calibration),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=["MatMul"],
        per_channel=variant.per_channel,
        reduce_range=variant.reduce_range,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8 if variant.weights == "s8" else QuantType.QUInt8,
        calibrate_method=CalibrationMethod.MinMax,
        extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
    )


def calibration_feeds(fp32_model: Path, padded: Sequence[tuple[np.ndarray, np.ndarray]]) -> Feeds:
    """Model inputs for static calibration, built as the runtime builds them (by the names the
    graph declares: BERT wants token_type_ids, DistilBERT does not)."""
    runner = internals.onnx_runner(fp32_model)
    return [runner.feed(ids, mask) for ids, mask in padded]


def ladder(preset: str) -> tuple[str, ...]:
    """The recipes ``senticlf export`` tries on a CPU family, in order."""
    return tuple(quantize.LADDERS[preset])

"""``export --fp16``: the fused fp32 graph in float16, for CUDA, checked against fp32.

Dynamic INT8 (DynamicQuantizeLinear, MatMulInteger) is a CPU recipe; what a GPU runs fast is
half precision on its tensor cores. ONNX Runtime's transformer tools convert an optimized
BERT-family graph (fused Attention, SkipLayerNormalization, BiasGelu) to float16 and, with
``keep_io_types``, keep the int64 inputs and the float32 logits, so the runtime feeds and reads
the fp16 model exactly like the fp32 one.

The model is scored on the validation reviews with the best provider at hand: CUDA on a GPU,
else the CPU, which runs fp16 graphs too (ONNX Runtime casts around the ops it has no fp16
kernel for), slowly but well enough to check the conversion. The provider is recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from senticlf import artifacts
from senticlf.export import check
from senticlf.runtime import plan
from senticlf.runtime.batching import TokenIds, run_length_sorted
from senticlf.runtime.session import CPU, ModelRunner
from senticlf.runtime.tokenize import ReviewEncoder


def convert(fp32_model: Path, target: Path) -> None:
    """Write ``fp32_model`` converted to float16 (weights and activations), I/O kept float32."""
    import onnx
    from onnxruntime.transformers.onnx_model import OnnxModel

    model = OnnxModel(onnx.load(fp32_model))
    # Symbolic shape inference types the com.microsoft fused ops, which ONNX's own cannot.
    model.convert_float_to_float16(use_symbolic_shape_infer=True, keep_io_types=True)
    onnx.save(model.model, target)


def checked(
    fp32_model: Path,
    target: Path,
    fp32: check.Scores,
    encoder: ReviewEncoder,
    ids: Sequence[TokenIds],
    labels: np.ndarray,
    served: Callable[[np.ndarray], np.ndarray],
) -> tuple[artifacts.Fp16Result, artifacts.BatchProfile | None]:
    """Convert, score against fp32, and measure batching when the CPU provider ran it.

    A profile taken on CUDA belongs to that GPU, not to the exporting CPU the manifest's
    batching record describes, so it is not returned; the runtime measures fp16 on CUDA at
    load, with fp16's tolerance.
    """
    convert(fp32_model, target)
    runner = ModelRunner(target)

    def run(batch: list[TokenIds]) -> np.ndarray:
        return runner.logits(*encoder.pad(batch))

    scores = check.scored(run_length_sorted(ids, check.CHECK_BATCH, run), labels)

    difference = float(np.max(np.abs(served(scores.logits) - served(fp32.logits))))
    result = artifacts.Fp16Result(
        accuracy=scores.accuracy,
        agreement=check.agreement(fp32, scores),
        max_probability_difference=difference,
        provider=runner.provider,
    )
    if runner.provider != CPU:
        return result, None
    profile = plan.measure(ids, run, served, precision="fp16")
    return result, profile

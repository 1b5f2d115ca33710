"""Build what each engine of benchmarks.engines runs, from one run's PyTorch model and bundle.

ONNX Runtime gets the bundle's fused fp32 and dynamic INT8 files as they are, plus static QDQ
INT8 built two ways. OpenVINO cannot read ONNX Runtime's com.microsoft fused operators, so it
gets the plain (unfused) Optimum export, and NNCF quantizes that. CTranslate2 converts the
Hugging Face encoder; the classification head it lacks is saved here for numpy.

Why static INT8 on the fused graph is slow: ONNX Runtime's QDQ quantizer has no rule for the
fused ``Attention`` operator (onnxruntime.quantization.registry: ``Attention`` is only in the
IntegerOps registry, i.e. the dynamic ``QAttention`` path), so with ``op_types=["MatMul"]`` the
fused graph keeps each layer's QKV projection and the attention itself in fp32 and quantizes
only the output and feed-forward MatMuls. On the unfused graph the QKV projections and the two
attention products are plain MatMuls and are quantized too; that variant is built as well.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import int8_recipes, internals
from senticlf import artifacts, cpu

BF16_FLAGS = ("amx_bf16", "avx512_bf16")
CT2_COMPUTE_TYPES = ("int8", "int8_float32", "int16", "bfloat16", "float32")


def has_bf16() -> bool:
    return any(flag in cpu.cpu_flags() for flag in BF16_FLAGS)


def plain_onnx(model_dir: Path, folder: Path) -> Path:
    """Optimum's export without ONNX Runtime's fusions: standard ONNX operators only."""
    folder.mkdir(parents=True, exist_ok=True)
    return internals.fp32_onnx(model_dir, folder, optimize=False)


def static_int8(source: Path, target: Path, feeds: int8_recipes.Feeds) -> Path:
    """The static QDQ recipe (s8 per-channel weights, u8 activations, MinMax)."""
    int8_recipes.build(source, target, cpu.int8_preset(), "static s8 per-channel", feeds)
    return target


def nncf_int8(plain: Path, target: Path, feeds: int8_recipes.Feeds) -> Path:
    """NNCF post-training INT8 of the plain ONNX, for OpenVINO, saved as IR (xml + bin)."""
    import nncf
    import openvino as ov

    model = ov.Core().read_model(plain)
    quantized = nncf.quantize(
        model,
        nncf.Dataset(list(feeds)),
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(feeds),
    )
    ov.save_model(quantized, target, compress_to_fp16=False)
    return target


def ct2_model(model_dir: Path, target: Path) -> Path:
    """One float32 conversion; the compute type (int8, bfloat16, ...) is chosen at load."""
    import ctranslate2

    ctranslate2.converters.TransformersConverter(str(model_dir)).convert(str(target), force=True)
    return target


def head_weights(model_dir: Path, target: Path) -> dict[str, Any]:
    """The classification head in float32 (the stand-in's weights are stored as float16).

    BERT: pooler (dense + tanh on [CLS]) then classifier; DistilBERT: pre_classifier + ReLU
    then classifier. Returns what the CTranslate2 runner needs to know (token types or not).
    """
    from safetensors.numpy import load_file

    tensors = load_file(model_dir / artifacts.WEIGHTS)
    model_type = json.loads((model_dir / "config.json").read_text())["model_type"]
    if model_type == "bert":
        dense, activation = "bert.pooler.dense", "tanh"
    elif model_type == "distilbert":
        dense, activation = "pre_classifier", "relu"
    else:
        raise ValueError(f"no classification head rule for model type {model_type!r}")
    np.savez(
        target,
        dense_w=tensors[f"{dense}.weight"].astype(np.float32),
        dense_b=tensors[f"{dense}.bias"].astype(np.float32),
        out_w=tensors["classifier.weight"].astype(np.float32),
        out_b=tensors["classifier.bias"].astype(np.float32),
        activation=np.array(activation),
    )
    return {"head": str(target), "token_types": model_type == "bert"}


def single_feeds(model: Path, ids: Sequence[Sequence[int]]) -> int8_recipes.Feeds:
    """Calibration inputs one review at a time: no padding enters the activation ranges."""
    padded = [
        (np.array([row], dtype=np.int64), np.ones((1, len(row)), dtype=np.int64)) for row in ids
    ]
    return int8_recipes.calibration_feeds(model, padded)


def build_engines(
    model_dir: Path,
    bundle: Path,
    folder: Path,
    calibration_ids: Sequence[Sequence[int]],
    wanted: Callable[[str], bool] = lambda name: True,
    log: Any = print,
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Every engine's spec for benchmarks.common.engines_worker, and why any could not be built.

    ``wanted`` skips the engines not asked for before anything is built for them.
    """
    folder.mkdir(parents=True, exist_ok=True)
    fused, int8 = bundle / artifacts.FP32_MODEL, bundle / artifacts.INT8_MODEL
    specs: list[dict[str, Any]] = [
        {"name": "pytorch eager fp32", "kind": "torch", "model": str(model_dir)},
        {"name": "ort fp32", **_ort(fused)},
    ]
    failed: dict[str, str] = {}
    if int8.is_file() and wanted("ort int8 dynamic (bundle)"):
        specs.append({"name": "ort int8 dynamic (bundle)", **_ort(int8)})
    log("exporting the plain ONNX graph")
    plain = plain_onnx(model_dir, folder / "plain")
    feeds = single_feeds(plain, calibration_ids)
    steps: list[tuple[str, Any]] = [
        ("ort int8 static fused (MatMul only)", lambda: _ort(static_int8(fused, folder / "static-fused.onnx", single_feeds(fused, calibration_ids)))),
        ("ort int8 static unfused (all MatMuls)", lambda: _ort(static_int8(plain, folder / "static-plain.onnx", feeds))),
        ("openvino fp32", lambda: _ov(plain, "f32")),
    ]  # fmt: skip
    if has_bf16():
        steps.append(("openvino bf16", lambda: _ov(plain, "bf16")))
    else:
        failed["openvino bf16"] = f"not measured: the CPU has none of {', '.join(BF16_FLAGS)}"
    nncf_xml = folder / "nncf" / "model.xml"
    steps.append(("openvino int8 nncf", lambda: _ov(nncf_int8(plain, nncf_xml, feeds), "f32")))
    if has_bf16():  # reuses the IR built for "openvino int8 nncf", or builds it
        steps.append(
            (
                "openvino int8 nncf + bf16",
                lambda: _ov(
                    nncf_xml if nncf_xml.is_file() else nncf_int8(plain, nncf_xml, feeds), "bf16"
                ),
            )
        )
    ct2_dir = folder / "ct2"
    for compute in CT2_COMPUTE_TYPES:
        steps.append((f"ctranslate2 {compute}", lambda c=compute: _ct2(model_dir, ct2_dir, folder, c)))  # fmt: skip
    for name, build in steps:
        if not wanted(name):
            continue
        log(f"building {name}")
        try:
            specs.append({"name": name, **build()})
        except Exception as exc:  # an engine that cannot be built is a result, not a crash
            failed[name] = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else repr(exc)
    return specs, failed


def _ort(model: Path) -> dict[str, Any]:
    return {"kind": "ort", "model": str(model), "graph": graph_summary(model)}


def graph_summary(model: Path) -> dict[str, int]:
    """What an ONNX Runtime graph computes in integers and what stays fp32: the counts that
    explain a static INT8 model's speed (how many MatMuls are fed by DequantizeLinear on both
    sides, whether the attention is fused, quantized or left as plain ops)."""
    import onnx

    graph = onnx.load(model, load_external_data=False).graph
    dequantized = {o for n in graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    counts: dict[str, int] = {}
    for node in graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    matmuls = [n for n in graph.node if n.op_type == "MatMul"]
    summary = {
        op: counts.get(op, 0)
        for op in ("Attention", "QAttention", "MatMulInteger", "DynamicQuantizeLinear", "QuantizeLinear", "Softmax")
    }  # fmt: skip
    summary["MatMul int8 (QDQ both inputs)"] = sum(
        all(i in dequantized for i in n.input) for n in matmuls
    )
    summary["MatMul fp32"] = len(matmuls) - summary["MatMul int8 (QDQ both inputs)"]
    return summary


def _ov(model: Path, precision: str) -> dict[str, Any]:
    if not model.is_file():
        raise FileNotFoundError(f"{model} was not built")
    return {"kind": "openvino", "model": str(model), "precision": precision}


def _ct2(model_dir: Path, ct2_dir: Path, folder: Path, compute: str) -> dict[str, Any]:
    import ctranslate2

    supported = ctranslate2.get_supported_compute_types("cpu")
    if compute not in supported:  # CTranslate2 4.x runs bfloat16 on CUDA only
        raise ValueError(
            f"not supported by CTranslate2 on this CPU (it offers {', '.join(sorted(supported))})"
        )
    if not (ct2_dir / "model.bin").is_file():
        shutil.rmtree(ct2_dir, ignore_errors=True)
        ct2_model(model_dir, ct2_dir)
    head = head_weights(model_dir, folder / "head.npz")
    return {"kind": "ct2", "model": str(ct2_dir), "compute_type": compute, **head}

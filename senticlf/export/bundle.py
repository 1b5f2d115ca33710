"""``senticlf export``: a finished run folder in, a checked, self-contained bundle out.

The bundle is built in a staging folder and moved into place only when it is complete, so a
failed export never leaves something that looks like a working bundle.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from senticlf import __version__, artifacts, atomic
from senticlf.errors import SenticlfError
from senticlf.evaluation import calibration
from senticlf.export import card, check, quantize, speed
from senticlf.export.options import ExportOptions
from senticlf.runtime.tokenize import ReviewEncoder
from senticlf.training import run_folder
from senticlf.training.config import TrainConfig

# Export PyTorch and ONNX within this of each other, or the export is broken, not noisy.
FP32_TOLERANCE = 1e-3


def export_run(
    run_dir: Path, output: Path, options: ExportOptions, console: Console
) -> dict[str, Any]:
    """Export, check, optionally quantize; returns the check's numbers."""
    config, metrics = run_folder.finished_run(run_dir)
    val = run_folder.read_subset(run_dir, artifacts.RUN_VAL_CSV, config)
    labels = np.array([review.label for review in val])
    failure: str | None = None
    with atomic.atomic_dir(output, overwrite=options.overwrite) as staging:
        model_path = export_fp32(
            run_dir / artifacts.RUN_MODEL_DIR, staging, options.opset, console, options.optimize
        )
        encoder = ReviewEncoder.load(config.encoder_settings(staging / artifacts.TOKENIZER))
        ids = encoder.encode([review.text for review in val])
        console.print(f"checking the export on {len(val)} validation reviews")
        reference = check.torch_scores(run_dir / artifacts.RUN_MODEL_DIR, encoder, ids, labels)
        fp32 = check.onnx_scores(model_path, encoder, ids, labels)
        difference = check.max_logit_difference(reference, fp32)
        if difference > FP32_TOLERANCE:
            raise SenticlfError(
                f"the ONNX model's logits differ from PyTorch's by {difference:.2e} "
                f"(tolerance {FP32_TOLERANCE}); export aborted"
            )
        report: dict[str, Any] = {
            "reviews": len(val),
            "torch_accuracy": reference.accuracy,
            "fp32_accuracy": fp32.accuracy,
            "fp32_max_logit_difference": difference,
            "graph_optimization": "onnxruntime transformer fusions (O2)"
            if options.optimize
            else "none",
        }
        temperature = 1.0
        if options.calibrate:
            fitted = calibration.calibrate(fp32.logits, labels)
            temperature = fitted.temperature
            report["calibration"] = fitted.to_dict()
        quant_info = None
        if options.quantize:
            quant_info, failure = _quantize_checked(
                staging, model_path, fp32, encoder, ids, labels, options, console
            )
            report.update(quant_info.pop("report"))
        files = [artifacts.FP32_MODEL, artifacts.TOKENIZER]
        if quant_info and not failure:
            files.append(artifacts.INT8_MODEL)
        manifest = _manifest(
            staging, files, config, metrics, report, quant_info if not failure else None
        )
        manifest.temperature = temperature
        _write_card_and_manifest(staging, manifest, output.name, run_folder.settings(run_dir))
    _print_report(console, report, output)
    if failure:
        raise SenticlfError(f"{failure}; the fp32 bundle was kept at {output}")
    return report


def export_fp32(
    model_dir: Path, staging: Path, opset: int | None, console: Console, optimize: bool = True
) -> Path:
    from optimum.exporters.onnx import main_export

    console.print(f"exporting {model_dir} to ONNX with Optimum")
    with tempfile.TemporaryDirectory(dir=staging.parent) as scratch:
        try:
            main_export(
                str(model_dir),
                output=scratch,
                task="text-classification",
                opset=opset,
                do_validation=False,  # our own check below compares on real reviews
            )
            model = (
                _fuse_transformer_ops(Path(scratch), console)
                if optimize
                else Path(scratch) / "model.onnx"
            )
        except Exception as exc:  # optimum raises many types; all are "cannot export"
            raise SenticlfError(f"ONNX export of {model_dir} failed: {exc}") from None
        shutil.move(str(model), staging / artifacts.FP32_MODEL)
        shutil.move(str(Path(scratch) / artifacts.TOKENIZER), staging / artifacts.TOKENIZER)
    return staging / artifacts.FP32_MODEL


def _fuse_transformer_ops(folder: Path, console: Console) -> Path:
    """ONNX Runtime's transformer optimizer (via Optimum): fused attention, LayerNorm and GELU.

    Done offline, before quantization, so that INT8 quantizes the fused attention too
    (QAttention) instead of the dozens of small ops it replaces.
    """
    from optimum.onnxruntime import ORTOptimizer
    from optimum.onnxruntime.configuration import AutoOptimizationConfig

    console.print("fusing transformer operators (ONNX Runtime optimizer, level O2)")
    optimizer = ORTOptimizer.from_pretrained(folder, file_names=["model.onnx"])
    optimizer.optimize(AutoOptimizationConfig.O2(for_gpu=False), save_dir=folder / "optimized")
    return folder / "optimized" / "model_optimized.onnx"


def _quantize_checked(
    staging: Path,
    fp32_path: Path,
    fp32: check.Scores,
    encoder: ReviewEncoder,
    ids: list[list[int]],
    labels: np.ndarray,
    options: ExportOptions,
    console: Console,
) -> tuple[dict[str, Any], str | None]:
    """Try this CPU family's INT8 variants until one keeps accuracy; report what was tried."""
    preset = quantize.checked_preset(options.preset)
    target = staging / artifacts.INT8_MODEL
    tried: list[dict[str, Any]] = []
    for name in quantize.LADDERS[preset]:
        console.print(f"quantizing to INT8 ({preset}, {name})")
        quantize.quantize(fp32_path, target, preset, name)
        int8 = check.onnx_scores(target, encoder, ids, labels)
        drop = (fp32.accuracy - int8.accuracy) * 100
        agree = check.agreement(fp32, int8)
        tried.append({"setting": name, "int8_accuracy": int8.accuracy, "agreement": agree})
        if drop <= options.max_accuracy_drop and agree >= options.min_agreement:
            timing = speed.compare(fp32_path, target, encoder, ids)
            report = {"int8_accuracy": int8.accuracy, "int8_agreement": agree, "int8_setting": name}
            info = {"preset": preset, "variant": name, "setting": name, "tried": tried}
            return {**info, "speed": timing, "report": {**report, **timing}}, None
        console.print(f"[yellow]{name}: accuracy drop {drop:.1f} points, agreement {agree:.1%}[/]")
    target.unlink(missing_ok=True)
    last = tried[-1]
    failure = (
        f"INT8 lost too much: every setting tried ({', '.join(str(t['setting']) for t in tried)}) dropped "
        f"more than {options.max_accuracy_drop} points or agreed on under {options.min_agreement:.0%} "
        f"(last: {last['int8_accuracy']:.1%} vs fp32 {fp32.accuracy:.1%})"
    )
    return {"preset": preset, "tried": tried, "report": {"int8_tried": tried}}, failure


def _manifest(
    staging: Path,
    files: list[str],
    config: TrainConfig,
    metrics: dict[str, Any],
    report: dict[str, Any],
    quant_info: dict[str, Any] | None,
) -> artifacts.Manifest:
    import onnx

    opset = next(
        (
            o.version
            for o in onnx.load(
                staging / artifacts.FP32_MODEL, load_external_data=False
            ).opset_import
            if o.domain in ("", "ai.onnx")
        ),
        None,
    )
    return artifacts.Manifest(
        max_length=config.max_length,
        truncation=config.truncation,
        base_model=config.base_model,
        files=artifacts.hash_files(staging, files),
        labels=list(config.label_names),
        opset=opset,
        senticlf_version=__version__,
        training_metrics={
            k: metrics.get(k) for k in ("best_epoch", "best", "train_size", "val_size")
        },
        export_check=report,
        quantization=quant_info,
    )


def _write_card_and_manifest(
    staging: Path, manifest: artifacts.Manifest, name: str, recipe: dict[str, Any]
) -> None:
    """The model card is rendered from the manifest, then hashed into it like any other file."""
    text = card.render_card(manifest, name=name, recipe=recipe)
    atomic.write_text(staging / artifacts.CARD, text)
    manifest.files.update(artifacts.hash_files(staging, [artifacts.CARD]))
    manifest.write(staging)


def _print_report(console: Console, report: dict[str, Any], output: Path) -> None:
    console.print(
        f"fp32: accuracy {report['fp32_accuracy']:.2%} (PyTorch {report['torch_accuracy']:.2%}), "
        f"largest logit difference {report['fp32_max_logit_difference']:.2e}"
    )
    if "calibration" in report:
        fitted = report["calibration"]
        console.print(
            f"calibration: temperature {fitted['temperature']:.3f}, expected calibration error "
            f"{fitted['ece_before']:.3f} -> {fitted['ece_after']:.3f} on the validation reviews"
        )
    if "int8_accuracy" in report:
        console.print(
            f"int8: accuracy {report['int8_accuracy']:.2%}, agrees with fp32 on "
            f"{report['int8_agreement']:.1%} ({report['int8_setting']}); "
            f"{report['int8_reviews_per_s']:.1f} reviews/s vs fp32 {report['fp32_reviews_per_s']:.1f} "
            f"({report['int8_speedup']:.2f}x) on this CPU"
        )
        warning = speed.not_faster_warning(report)
        if warning:
            console.print(f"[yellow]warning: {warning}[/]")
    console.print(f"[bold green]bundle written to {output}[/]")

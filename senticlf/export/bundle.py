"""``senticlf export``: a finished run folder in, a checked, self-contained bundle out.

The bundle is built in a staging folder and moved into place only when it is complete, so a
failed export never leaves something that looks like a working bundle.
"""

from __future__ import annotations

import dataclasses
import functools
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress

from senticlf import __version__, artifacts, atomic, cpu
from senticlf.errors import SenticlfError
from senticlf.export import calibration_step, card, card_metadata, check, fp16, quantize, speed
from senticlf.export.options import ExportOptions, accuracy_drop_points
from senticlf.runtime import execution_trials, plan
from senticlf.runtime.calibrator import Calibrator
from senticlf.runtime.options import available_cores
from senticlf.runtime.tokenize import ReviewEncoder
from senticlf.training import run_folder
from senticlf.training.config import TrainConfig

# Export PyTorch and ONNX within this of each other, or the export is broken, not noisy.
FP32_TOLERANCE = 1e-3


def export_run(
    run_dir: Path, output: Path, options: ExportOptions, console: Console
) -> artifacts.ExportCheck:
    """Export, check, optionally quantize and convert to fp16, measure how each model batches;
    returns the check."""
    config, metrics = run_folder.finished_run(run_dir)
    val = run_folder.read_subset(run_dir, artifacts.RUN_VAL_CSV, config)
    labels = np.array([review.label for review in val])
    calibration_reviews = calibration_step.read_reviews(options, config)  # before the slow export
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
        fitted, calibrator = None, Calibrator()  # Calibrator(): T = 1, uncalibrated
        if options.calibrate:
            fitted = calibration_step.fit(
                calibration_reviews, options, model_path, encoder, fp32, labels, console
            )
            calibrator = fitted.calibrator
        served = calibrator.apply  # probabilities as the predictor will serve them
        profiles = {artifacts.FP32_MODEL: check.batch_profile(model_path, encoder, ids, served)}
        int8: artifacts.Int8Result | None = None
        files = [artifacts.FP32_MODEL, artifacts.TOKENIZER]
        ref = _Reference(staging, model_path, fp32, encoder, ids, labels, options, console, served)
        if options.quantize:
            int8, int8_profile = _quantize_checked(ref)
            if int8_profile is None:
                failure = _ladder_failure(int8, fp32, options)
            else:
                files.append(artifacts.INT8_MODEL)
                profiles[artifacts.INT8_MODEL] = int8_profile
        profiles = _time_call_plans(ref, profiles)
        half: artifacts.Fp16Result | None = None
        if options.fp16:
            half, half_failure = _fp16_checked(ref, files, profiles)
            failure = failure or half_failure
        report = artifacts.ExportCheck(
            reviews=len(val),
            torch_accuracy=reference.accuracy,
            fp32_accuracy=fp32.accuracy,
            fp32_max_logit_difference=difference,
            graph_optimization="onnxruntime transformer fusions (O2)"
            if options.optimize
            else "none",
            calibration=calibration_step.report(fitted, fp32, labels) if fitted else None,
            int8=int8,
            fp16=half,
        )
        manifest = _manifest(staging, files, config, metrics, report, profiles)
        if fitted is not None:
            manifest.calibration = calibrator.to_dict()
        _write_card_and_manifest(staging, manifest, output.name, run_folder.settings(run_dir))
    _print_report(console, manifest, output)
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


@dataclass(frozen=True)
class _Reference:
    """What every reduced-precision model (INT8, fp16) is made from and checked against."""

    staging: Path
    fp32_path: Path
    fp32: check.Scores
    encoder: ReviewEncoder
    ids: list[list[int]]
    labels: np.ndarray
    options: ExportOptions
    console: Console
    served: Callable[[np.ndarray], np.ndarray]  # probabilities as the predictor serves them

    def passes(self, accuracy: float, agreement: float) -> bool:
        """The export gate against this fp32 model (:meth:`ExportOptions.passes_gate`)."""
        return self.options.passes_gate(self.fp32.accuracy, accuracy, agreement)


def _quantize_checked(
    ref: _Reference,
) -> tuple[artifacts.Int8Result, artifacts.BatchProfile | None]:
    """Try this CPU family's INT8 variants until one keeps accuracy; report what was tried.

    Each variant is scored with every review alone in its call, as it will be served (dynamic
    INT8 is not batch-invariant, so the runtime never batches it beyond what was measured).
    """
    preset = ref.options.int8_preset
    target = ref.staging / artifacts.INT8_MODEL
    tried: list[artifacts.Int8Attempt] = []
    for name in quantize.LADDERS[preset]:
        ref.console.print(f"quantizing to INT8 ({preset}, {name})")
        quantize.quantize(ref.fp32_path, target, preset, name)
        runner, alone = check.alone_scores(target, ref.encoder, ref.ids, ref.labels)
        agree = check.agreement(ref.fp32, alone)
        tried.append(artifacts.Int8Attempt(name, alone.accuracy, agree))
        if ref.passes(alone.accuracy, agree):
            ref.console.print("measuring how the INT8 model batches on this CPU")
            # every ladder recipe is dynamic: ranges from each call, so one review a call
            profile = check.batch_profile_of(
                runner, ref.encoder, ref.ids, ref.served, alone.logits, cap=1
            )
            return artifacts.Int8Result(preset, tuple(tried), name), profile
        drop = accuracy_drop_points(ref.fp32.accuracy, alone.accuracy)
        ref.console.print(
            f"[yellow]{name}: accuracy drop {drop:.1f} points, agreement {agree:.1%}[/]"
        )
    target.unlink(missing_ok=True)
    return artifacts.Int8Result(preset, tuple(tried), None), None


def _time_call_plans(
    ref: _Reference, profiles: dict[str, artifacts.BatchProfile]
) -> dict[str, artifacts.BatchProfile]:
    """Each CPU model's call plans (batch size x streams x threads x spinning), timed in fresh
    processes taking turns; the steadiest fast one is recorded for the runtime to follow."""
    runs = ref.options.plan_runs
    if runs == 0:
        return profiles
    cores = available_cores()
    timed = dict(profiles)
    for name, profile in profiles.items():
        sizes = sorted({1, profile.batch_size})
        configs = [(size, e) for size in sizes for e in plan.candidate_executions(cores)]
        with Progress(console=ref.console, transient=True) as progress:
            task = progress.add_task(
                f"timing {len(configs)} call plans of {name}, {runs} fresh processes each",
                total=len(configs) * runs,
            )
            trials = execution_trials.time_configurations(
                ref.staging / name, ref.ids, ref.encoder.pad_id, configs, runs,
                on_run=functools.partial(progress.advance, task),
            )  # fmt: skip
        best = plan.best_trial(trials)
        timed[name] = dataclasses.replace(
            profile, batch_size=best.batch_size, execution=best.execution, trials=trials
        )
    return timed


def _fp16_checked(
    ref: _Reference, files: list[str], profiles: dict[str, artifacts.BatchProfile]
) -> tuple[artifacts.Fp16Result, str | None]:
    """Add the fp16 model to ``files`` if it keeps accuracy as INT8 must; else say why not."""
    ref.console.print("converting to float16 (ONNX Runtime transformer tools, float32 I/O kept)")
    target = ref.staging / artifacts.FP16_MODEL
    result, profile = fp16.checked(
        ref.fp32_path, target, ref.fp32, ref.encoder, ref.ids, ref.labels, ref.served
    )
    if not ref.passes(result.accuracy, result.agreement):
        target.unlink(missing_ok=True)
        options = ref.options
        return result, (
            f"fp16 lost too much: accuracy {result.accuracy:.1%} vs fp32 "
            f"{ref.fp32.accuracy:.1%}, agreement {result.agreement:.1%} (limits: "
            f"{options.max_accuracy_drop} points, {options.min_agreement:.0%})"
        )
    files.append(artifacts.FP16_MODEL)
    if profile is not None:
        profiles[artifacts.FP16_MODEL] = profile
    return result, None


def _ladder_failure(int8: artifacts.Int8Result, fp32: check.Scores, options: ExportOptions) -> str:
    last = int8.tried[-1]
    return (
        f"INT8 lost too much: every variant tried ({', '.join(t.variant for t in int8.tried)}) "
        f"dropped more than {options.max_accuracy_drop} points or agreed on under "
        f"{options.min_agreement:.0%} (last: {last.accuracy:.1%} vs fp32 {fp32.accuracy:.1%})"
    )


def _manifest(
    staging: Path,
    files: list[str],
    config: TrainConfig,
    metrics: dict[str, Any],
    report: artifacts.ExportCheck,
    profiles: dict[str, artifacts.BatchProfile],
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
        batching=artifacts.Batching(
            cpu=cpu.cpu_name(), instruction_sets=tuple(cpu.instruction_sets()), models=profiles
        ),
    )


def _write_card_and_manifest(
    staging: Path, manifest: artifacts.Manifest, name: str, recipe: dict[str, Any]
) -> None:
    """The model card is rendered from the manifest, then hashed into it like any other file."""
    license = card_metadata.license_of(manifest.base_model)
    text = card.render_card(manifest, name=name, recipe=recipe, license=license)
    atomic.write_text(staging / artifacts.CARD, text)
    manifest.files.update(artifacts.hash_files(staging, [artifacts.CARD]))
    manifest.write(staging)


def _print_report(console: Console, manifest: artifacts.Manifest, output: Path) -> None:
    report = manifest.export_check
    assert report is not None  # export always writes one
    console.print(
        f"fp32: accuracy {report.fp32_accuracy:.2%} (PyTorch {report.torch_accuracy:.2%}), "
        f"largest logit difference {report.fp32_max_logit_difference:.2e}"
    )
    if report.calibration:
        fitted = report.calibration
        console.print(
            f"calibration: {fitted.description}, chosen by cross-validated log-loss on "
            f"{fitted.reviews} reviews ({fitted.source}); cross-validated ECE "
            f"{card.figure_or_dash(fitted.cv_ece, 3)} (uncalibrated {fitted.ece_before:.3f}); "
            f"validation accuracy {report.fp32_accuracy:.2%} -> "
            f"{fitted.validation_accuracy_after:.2%}"
        )
    kept = report.int8.kept if report.int8 else None
    if report.int8 and kept:
        console.print(
            f"int8: accuracy {kept.accuracy:.2%}, agrees with fp32 on {kept.agreement:.1%} "
            f"({report.int8.preset}, {kept.variant})"
        )
    if report.fp16:
        console.print(
            f"fp16: accuracy {report.fp16.accuracy:.2%}, agrees with fp32 on "
            f"{report.fp16.agreement:.1%}, largest probability difference "
            f"{report.fp16.max_probability_difference:.1e} (run on {report.fp16.provider})"
        )
    for line in speed.batching_lines(manifest):
        console.print(line)
    warning = speed.not_faster_warning(manifest)
    if warning:
        console.print(f"[yellow]warning: {warning}[/]")
    console.print(f"[bold green]bundle written to {output}[/]")

"""The model card: what a bundle is, in words a reviewer reads before it ships.

Written by export as the bundle's README.md, in the spirit of a Hugging Face model card, from
the manifest alone (plus the run's settings when export has them), so the card can never
disagree with the manifest it sits beside. ``senticlf info`` prints the same summary.
Pure and torch-free: rendering needs nothing but the manifest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from senticlf import artifacts
from senticlf.evaluation.calibration import ECE_BINS
from senticlf.export import card_metadata
from senticlf.runtime import hub
from senticlf.runtime.calibrator import Calibrator


def _percent(value: Any) -> str:
    return f"{value:.2%}" if isinstance(value, int | float) and value == value else "-"


def figure_or_dash(value: Any, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) and value == value else "-"


def calibration_of(manifest: artifacts.Manifest) -> artifacts.CalibrationCheck | None:
    """What export measured around the calibrator it fitted (None: not calibrated)."""
    return manifest.export_check.calibration if manifest.export_check else None


def _check_of(manifest: artifacts.Manifest) -> artifacts.ExportCheck:
    """The export check, or an empty one for a manifest written without it."""
    nan = float("nan")
    return manifest.export_check or artifacts.ExportCheck(0, nan, nan, nan, "")


def _int8_of(manifest: artifacts.Manifest) -> tuple[str, artifacts.Int8Attempt | None]:
    int8 = _check_of(manifest).int8
    return (int8.preset, int8.kept) if int8 else ("-", None)


def summary(manifest: artifacts.Manifest) -> list[tuple[str, str]]:
    """The facts a reviewer checks first, as (field, value) rows: one source for card and info."""
    best = manifest.training_metrics.get("best") or {}
    check = _check_of(manifest)
    f1 = "F1" if len(manifest.labels) == 2 else "macro F1"
    rows = [
        ("labels", ", ".join(manifest.labels)),
        ("base model", manifest.base_model),
        ("max length", f"{manifest.max_length} tokens, truncation {manifest.truncation}"),
        (
            "training reviews",
            f"{manifest.training_metrics.get('train_size', '-')} "
            f"(validation {manifest.training_metrics.get('val_size', '-')})",
        ),
        (
            "validation",
            f"accuracy {_percent(best.get('val_accuracy'))}, {f1} {figure_or_dash(best.get('val_f1'))} "
            f"(epoch {manifest.training_metrics.get('best_epoch', '-')})",
        ),
        (
            "fp32 export",
            f"accuracy {_percent(check.fp32_accuracy)} (PyTorch "
            f"{_percent(check.torch_accuracy)}), largest logit difference "
            f"{_scientific(check.fp32_max_logit_difference)}",
        ),
    ]
    preset, kept = _int8_of(manifest)
    if artifacts.INT8_MODEL in manifest.files and kept:
        rows.append((
            "INT8",
            f"accuracy {_percent(kept.accuracy)}, agrees with fp32 on "
            f"{_percent(kept.agreement)} ({preset}, {kept.variant})",
        ))  # fmt: skip
    else:
        rows.append(("INT8", "none (fp32 only)"))
    half = check.fp16
    if artifacts.FP16_MODEL in manifest.files and half:
        rows.append((
            "fp16 (CUDA)",
            f"accuracy {_percent(half.accuracy)}, agrees with fp32 on {_percent(half.agreement)}, "
            f"largest probability difference {_scientific(half.max_probability_difference)} "
            f"(checked on {half.provider})",
        ))  # fmt: skip
    calibration = calibration_of(manifest)
    if calibration:
        rows.append((
            "calibration",
            f"{_calibrator_words(manifest)}; ECE {figure_or_dash(calibration.ece_before)} "
            f"uncalibrated, {figure_or_dash(calibration.cv_ece)} cross-validated, on "
            f"{calibration.reviews or '-'} held-out reviews",
        ))  # fmt: skip
    else:
        rows.append(("calibration", f"temperature {_temperature(manifest)} (not fitted)"))
    rows += [(f"batching {name}", line) for name, line in _batching_rows(manifest)]
    rows.append((
        "format",
        f"senticlf {manifest.senticlf_version or '-'}, manifest {manifest.format}, "
        f"opset {manifest.opset or '-'}",
    ))  # fmt: skip
    return rows


def _execution(profile: artifacts.BatchProfile) -> str:
    return f", {profile.execution.label()}" if profile.execution else ""


def _batching_rows(manifest: artifacts.Manifest) -> list[tuple[str, str]]:
    if manifest.batching is None:
        return []
    return [
        (
            name,
            f"batch {profile.batch_size}{_execution(profile)} ({profile.speed:.1f} reviews/s on "
            f"{manifest.batching.cpu}), batch-invariant up to {profile.invariant_up_to}",
        )
        for name, profile in manifest.batching.models.items()
    ]


def _scientific(value: Any) -> str:
    return f"{value:.1e}" if isinstance(value, int | float) and value == value else "-"


def render_card(
    manifest: artifacts.Manifest,
    name: str = "senticlf bundle",
    recipe: dict[str, Any] | None = None,
    license: str | None = None,
) -> str:
    """README.md text for a bundle, headed by the metadata the Hugging Face Hub reads.

    ``recipe`` is the run's settings (config.json), if known; ``license`` the base model's,
    if its card states one (card_metadata.license_of).
    """
    recipe = recipe or {}
    best = manifest.training_metrics.get("best") or {}
    files = [f for f in manifest.files if f != artifacts.CARD]
    lines = [
        card_metadata.front_matter(card_metadata.metadata(manifest, name, recipe, license)),
        f"# {name}",
        "",
        f"A text classifier ({', '.join(manifest.labels)}) fine-tuned from `{manifest.base_model}` "
        "and exported to ONNX by senticlf. It runs with onnxruntime, tokenizers and numpy: no "
        "torch, no transformers.",
        "",
        "| | |",
        "|---|---|",
        *(f"| {field} | {value} |" for field, value in summary(manifest)),
        "",
        "## Training data",
        "",
        f"- Source: `{recipe.get('data', 'not recorded')}`"
        + (f", evaluated on `{recipe['eval_data']}`" if recipe.get("eval_data") else ""),
        f"- {manifest.training_metrics.get('train_size', '-')} training reviews, "
        f"{manifest.training_metrics.get('val_size', '-')} validation reviews (disjoint)",
        f"- Labels, by logit index: {', '.join(f'{i} {label}' for i, label in enumerate(manifest.labels))}",
        "",
        "## Recipe",
        "",
    ]
    if recipe:
        lines += [
            f"{recipe.get('epochs', '-')} epochs, AdamW (lr {recipe.get('learning_rate', '-')}, weight "
            f"decay {recipe.get('weight_decay', '-')}), batch {recipe.get('batch_size', '-')}, "
            f"{recipe.get('scheduler', '-')} schedule with {recipe.get('warmup_ratio', '-')} warm-up, "
            f"seed {recipe.get('seed', '-')}; the epoch with the best validation accuracy is kept.",
            *_teacher_lines(recipe),
        ]
    else:
        lines += ["Not recorded in this bundle; see the run folder's config.json."]
    lines += [
        "",
        "## Validation metrics",
        "",
        f"Best epoch {manifest.training_metrics.get('best_epoch', '-')}: accuracy "
        f"{_percent(best.get('val_accuracy'))}, F1 {figure_or_dash(best.get('val_f1'))}, precision "
        f"{figure_or_dash(best.get('val_precision'))}, recall {figure_or_dash(best.get('val_recall'))}, loss "
        f"{figure_or_dash(best.get('val_loss'))}.",
        "",
        "## Export check",
        "",
        _export_check_text(manifest),
        "",
        "## Calibration",
        "",
        _calibration_text(manifest),
        "",
        "## Intended use and limitations",
        "",
        "- Intended for English reviews in the style of its training data (movie reviews for "
        "IMDb-trained bundles); other domains, languages and very short texts may score worse "
        "than the validation figures above. Measure on your own labelled data with "
        "`senticlf evaluate`.",
        f"- A review longer than {manifest.max_length} tokens is cut: "
        + _truncation_text(manifest.truncation)
        + " What lies in between is not seen; `senticlf evaluate` reports accuracy by length.",
        "- Probabilities are the model's, calibrated as above; they are not a "
        "guarantee for text unlike the training data.",
        "- Sarcasm, negation and mixed sentiment are the usual failures of sentiment models.",
        "",
        "## How to use",
        "",
        'With senticlf installed (`pip install "senticlf[hub]"` to load by Hub id), use this '
        "bundle by its folder or, once published, by its Hub id (`org/name`, or "
        "`org/name@revision`), fetched once into the Hugging Face cache and usable offline "
        "from there:",
        "",
        "```bash",
        "senticlf predict reviews.txt --model org/name     # or path/to/this/bundle",
        "senticlf info org/name    # this summary, and a sha256 check of every file",
        "```",
        "",
        "```python",
        "import senticlf",
        "",
        'clf = senticlf.load("org/name")   # or a folder; checks every sha256 first',
        'clf.predict("A moving, beautifully shot film.")  # Prediction(label=..., score=..., scores={...})',
        "```",
        "",
        "## Files",
        "",
        *(f"- `{f}`" for f in files),
        f"- `{artifacts.MANIFEST}`: the manifest, with the sha256 of every file (this card too)",
    ]
    return "\n".join(lines) + "\n"


def _teacher_lines(recipe: dict[str, Any]) -> list[str]:
    """A distilled student (``senticlf distill``) names its teacher and its transfer set."""
    if not recipe.get("teacher"):
        return []
    transfer = recipe.get("transfer_set") or {}
    logits = transfer.get("logits_from") or {}
    return [
        "",
        f"Distilled from the teacher run `{recipe['teacher']}` (weights sha256 "
        f"`{recipe.get('teacher_sha256') or '-'}`), temperature {recipe.get('temperature', '-')}, "
        f"alpha {recipe.get('alpha', '-')}. Transfer set: {transfer.get('size', '-')} reviews "
        f"({transfer.get('labelled', '-')} labelled, {transfer.get('unlabelled', '-')} unlabelled "
        f"from `{transfer.get('source') or '-'}`) at {transfer.get('max_length', '-')} tokens, "
        f"labelled by the teacher's `{logits.get('file', '-')}`.",
    ]


def _truncation_text(truncation: str) -> str:
    if truncation == "head":
        return "the first tokens are kept."
    return "the first quarter and the last three quarters of the token budget are kept."


def _export_check_text(manifest: artifacts.Manifest) -> str:
    check = _check_of(manifest)
    text = (
        f"On {check.reviews or '-'} validation reviews the fp32 ONNX model reaches "
        f"{_percent(check.fp32_accuracy)} (PyTorch {_percent(check.torch_accuracy)}); "
        f"its logits differ from PyTorch's by at most {_scientific(check.fp32_max_logit_difference)}."
    )
    _, kept = _int8_of(manifest)
    if artifacts.INT8_MODEL in manifest.files and kept:
        text += (
            f" The dynamic INT8 model ({kept.variant}), each review in a call of its own as it is "
            f"served, reaches {_percent(kept.accuracy)} and gives fp32's label on "
            f"{_percent(kept.agreement)} of them."
        )
    if manifest.batching:
        text += (
            " A review's probabilities never depend on the other reviews in its ONNX Runtime "
            "call: each model is run in batches only up to the size at which it was measured "
            "to give the same answer as for the review alone (for INT8: one review a call)."
        )
    return text


def _calibrator(manifest: artifacts.Manifest) -> Calibrator | None:
    """The bundle's calibrator; None where it is unreadable (``info`` still shows the rest)."""
    try:
        return Calibrator.for_manifest(manifest.calibration)
    except ValueError:
        return None


def _calibrator_words(manifest: artifacts.Manifest) -> str:
    calibrator = _calibrator(manifest)
    return calibrator.describe() if calibrator else "unreadable calibrator"


def _temperature(manifest: artifacts.Manifest) -> str:
    calibrator = _calibrator(manifest)
    return figure_or_dash(calibrator.equivalent_temperature if calibrator else None, 3)


def _calibration_text(manifest: artifacts.Manifest) -> str:
    calibration = calibration_of(manifest)
    if not calibration:
        return (
            f"Temperature {_temperature(manifest)}: no temperature was fitted "
            "(exported with --no-calibrate, or by an older senticlf)."
        )
    if calibration.kind is None:  # bundles from before the choice of calibrators
        return (
            f"Logits are divided by a temperature of {_temperature(manifest)} before the softmax "
            f"(fp32 and INT8 alike), fitted on {calibration.reviews or '-'} held-out "
            "validation reviews by minimising the negative log-likelihood. On those reviews: "
            f"expected calibration error ({ECE_BINS} bins) {figure_or_dash(calibration.ece_before)}"
            f" before, {figure_or_dash(calibration.ece_after)} after."
        )
    candidates = calibration.candidates
    tried = ", ".join(
        f"{kind} {figure_or_dash(scores.get('log_loss'))}" for kind, scores in candidates.items()
    )
    check = _check_of(manifest)
    return (
        f"Probabilities come from {_calibrator_words(manifest)} (fp32 and INT8 alike), fitted on "
        f"{calibration.reviews or '-'} held-out labelled reviews ({calibration.source or '-'}) "
        + (
            f"and chosen by the lowest cross-validated log-loss ({tried})"
            if tried
            else "(too few to cross-validate a choice: temperature only)"
        )
        + ". The label is the most probable label after calibration. On those reviews: expected "
        f"calibration error ({ECE_BINS} bins) {figure_or_dash(calibration.ece_before)} "
        f"uncalibrated, {figure_or_dash(calibration.cv_ece)} cross-validated; log-loss "
        f"{figure_or_dash(calibration.nll_before)} uncalibrated, "
        f"{figure_or_dash(calibration.cv_log_loss)} cross-validated; accuracy "
        f"{_percent(calibration.accuracy_before)} before calibration, "
        f"{_percent(calibration.accuracy_after)} after. On the validation reviews: "
        f"accuracy {_percent(check.fp32_accuracy)} before, "
        f"{_percent(calibration.validation_accuracy_after)} after."
    )


def print_info(reference: str | Path, console: Console) -> None:
    """``senticlf info``: refuse a tampered or incomplete bundle, else print its summary.

    ``reference`` is a folder or a Hub id (fetched into the Hub's cache first).
    """
    bundle = hub.resolve_bundle(reference)
    manifest = artifacts.read_manifest(bundle, verify=True)
    title = f"senticlf bundle {reference}" + ("" if bundle == Path(reference) else f" ({bundle})")
    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for field, value in summary(manifest):
        table.add_row(field, value)
    sizes = ", ".join(
        f"{name} {(bundle / name).stat().st_size / 1e6:.1f} MB" for name in manifest.files
    )
    table.add_row("files", sizes)
    console.print(table)
    card = "" if artifacts.CARD in manifest.files else f"; no model card ({artifacts.CARD})"
    console.print(
        f"[green]all {len(manifest.files)} files match their sha256 in {artifacts.MANIFEST}[/]{card}"
    )

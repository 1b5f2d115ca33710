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


def _percent(value: Any) -> str:
    return f"{value:.2%}" if isinstance(value, int | float) else "-"


def _number(value: Any, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) else "-"


def calibration_of(manifest: artifacts.Manifest) -> dict[str, Any] | None:
    """What export measured around the temperature it fitted (None: not calibrated)."""
    found = manifest.export_check.get("calibration")
    return found if isinstance(found, dict) else None


def summary(manifest: artifacts.Manifest) -> list[tuple[str, str]]:
    """The facts a reviewer checks first, as (field, value) rows: one source for card and info."""
    best = manifest.training_metrics.get("best") or {}
    check = manifest.export_check
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
            f"accuracy {_percent(best.get('val_accuracy'))}, {f1} {_number(best.get('val_f1'))} "
            f"(epoch {manifest.training_metrics.get('best_epoch', '-')})",
        ),
        (
            "fp32 export",
            f"accuracy {_percent(check.get('fp32_accuracy'))} (PyTorch "
            f"{_percent(check.get('torch_accuracy'))}), largest logit difference "
            f"{_scientific(check.get('fp32_max_logit_difference'))}",
        ),
    ]
    if artifacts.INT8_MODEL in manifest.files:
        preset = (manifest.quantization or {}).get("preset", "-")
        rows.append((
            "INT8",
            f"accuracy {_percent(check.get('int8_accuracy'))}, agrees with fp32 on "
            f"{_percent(check.get('int8_agreement'))} ({preset}, {check.get('int8_setting', '-')})",
        ))  # fmt: skip
    else:
        rows.append(("INT8", "none (fp32 only)"))
    calibration = calibration_of(manifest)
    if calibration:
        rows.append((
            "calibration",
            f"temperature {manifest.temperature:.3f}; ECE {_number(calibration.get('ece_before'))}"
            f" -> {_number(calibration.get('ece_after'))} on {calibration.get('reviews', '-')} "
            "held-out reviews",
        ))  # fmt: skip
    else:
        rows.append(("calibration", f"temperature {manifest.temperature:.3f} (not fitted)"))
    rows.append((
        "format",
        f"senticlf {manifest.senticlf_version or '-'}, manifest {manifest.format}, "
        f"opset {manifest.opset or '-'}",
    ))  # fmt: skip
    return rows


def _scientific(value: Any) -> str:
    return f"{value:.1e}" if isinstance(value, int | float) else "-"


def render_card(
    manifest: artifacts.Manifest,
    name: str = "senticlf bundle",
    recipe: dict[str, Any] | None = None,
) -> str:
    """README.md text for a bundle. ``recipe`` is the run's settings (config.json), if known."""
    recipe = recipe or {}
    best = manifest.training_metrics.get("best") or {}
    files = [f for f in manifest.files if f != artifacts.CARD]
    lines = [
        "---",
        "language: en",
        "library_name: onnxruntime",
        "pipeline_tag: text-classification",
        "tags: [sentiment-analysis, onnx, senticlf]",
        f"base_model: {manifest.base_model}",
        "---",
        "",
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
        f"{_percent(best.get('val_accuracy'))}, F1 {_number(best.get('val_f1'))}, precision "
        f"{_number(best.get('val_precision'))}, recall {_number(best.get('val_recall'))}, loss "
        f"{_number(best.get('val_loss'))}.",
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
        "- Probabilities are the model's, scaled by the temperature above; they are not a "
        "guarantee for text unlike the training data.",
        "- Sarcasm, negation and mixed sentiment are the usual failures of sentiment models.",
        "",
        "## How to use",
        "",
        "```bash",
        "pip install senticlf",
        "senticlf predict reviews.txt --model path/to/this/bundle",
        "senticlf info path/to/this/bundle    # this summary, and a sha256 check of every file",
        "```",
        "",
        "```python",
        "import senticlf",
        "",
        'clf = senticlf.load("path/to/this/bundle")   # checks every sha256 first',
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
    check = manifest.export_check
    text = (
        f"On {check.get('reviews', '-')} validation reviews the fp32 ONNX model reaches "
        f"{_percent(check.get('fp32_accuracy'))} (PyTorch {_percent(check.get('torch_accuracy'))}); "
        f"its logits differ from PyTorch's by at most {_scientific(check.get('fp32_max_logit_difference'))}."
    )
    if artifacts.INT8_MODEL in manifest.files:
        text += (
            f" The dynamic INT8 model reaches {_percent(check.get('int8_accuracy'))} and gives "
            f"fp32's label on {_percent(check.get('int8_agreement'))} of them."
        )
    return text


def _calibration_text(manifest: artifacts.Manifest) -> str:
    calibration = calibration_of(manifest)
    if not calibration:
        return (
            f"Temperature {manifest.temperature:.3f}: no temperature was fitted "
            "(exported with --no-calibrate, or by an older senticlf)."
        )
    return (
        f"Logits are divided by a temperature of {manifest.temperature:.3f} before the softmax "
        f"(fp32 and INT8 alike), fitted on {calibration.get('reviews', '-')} held-out validation "
        "reviews by minimising the negative log-likelihood. Labels do not change, only scores. "
        f"On those reviews: expected calibration error (15 bins) {_number(calibration.get('ece_before'))}"
        f" before, {_number(calibration.get('ece_after'))} after; log-loss "
        f"{_number(calibration.get('nll_before'))} before, {_number(calibration.get('nll_after'))} after."
    )


def print_info(bundle: Path, console: Console) -> None:
    """``senticlf info``: refuse a tampered or incomplete bundle, else print its summary."""
    manifest = artifacts.read_manifest(bundle, verify=True)
    table = Table(title=f"senticlf bundle {bundle}", show_header=False)
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

"""An evaluation as a person reads it (Markdown, printed and written) and as a program does (JSON).

The Markdown is the one rendering: the terminal shows it through rich, report.md stores it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markdown import Markdown

from senticlf import atomic
from senticlf.evaluation import calibration, explained_errors, plots

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
RELIABILITY_PNG = "reliability.png"
COVERAGE_PNG = "coverage.png"


def print_report(console: Console, result: dict[str, Any]) -> None:
    """Rendered in a terminal; plain Markdown when piped (tables are never cut to 80 columns)."""
    text = to_markdown(result)
    if console.is_terminal:
        console.print(Markdown(text))
    else:
        console.print(text, markup=False, highlight=False, soft_wrap=True, end="")


def write_report(result: dict[str, Any], out: Path, overwrite: bool, progress: Console) -> None:
    """report.json, report.md and the two diagrams, in a folder that appears only complete."""
    with atomic.atomic_dir(out, overwrite=overwrite) as staging:
        atomic.write_text(staging / REPORT_JSON, json.dumps(result, indent=2) + "\n")
        if plots.matplotlib_available():
            plots.plot_reliability(reliability_panels(result), staging / RELIABILITY_PNG)
            plots.plot_coverage(coverage_lines(result), staging / COVERAGE_PNG)
            drawn = True
        else:
            progress.print(
                f"{RELIABILITY_PNG} and {COVERAGE_PNG} skipped: matplotlib is missing "
                "(pip install 'senticlf[evaluate]')"
            )
            drawn = False
        atomic.write_text(staging / REPORT_MD, to_markdown(result, diagram=drawn))
    progress.print(f"[bold green]evaluation written to {out}[/]")


def reliability_panels(result: dict[str, Any]) -> dict[str, calibration.CalibrationScores]:
    """Per model: as served (its calibrator) and, when that is not T = 1, uncalibrated."""
    panels = {}
    for model in result["models"]:
        served = _scores(model["calibration"]["calibrated"])
        raw = _scores(model["calibration"]["uncalibrated"])
        panels[f"{model['name']}, {served.calibrator}"] = served
        if served.calibrator != raw.calibrator:
            panels[f"{model['name']}, {raw.calibrator}"] = raw
    return panels


def coverage_lines(result: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Per model: its coverage curve (the points plots.plot_coverage draws)."""
    return {model["name"]: model["coverage"]["curve"] for model in result["models"]}


def _scores(stored: dict[str, Any]) -> calibration.CalibrationScores:
    bins = [calibration.ReliabilityBin(**b) for b in stored["bins"]]
    return calibration.CalibrationScores(stored["calibrator"], stored["ece"], stored["nll"], bins)


# ---------------------------------------------------------------------------- Markdown


def to_markdown(result: dict[str, Any], diagram: bool = False) -> str:
    models = result["models"]
    machine = result["machine"]
    lines = [
        f"# Evaluation on {result['data']}",
        "",
        f"{result['reviews']:,} labelled reviews; labels {', '.join(result['labels'])}. "
        f"Machine: {machine['cpu']} ({', '.join(machine['instruction_sets']) or 'no AVX2'}), "
        f"threads: {result['threads'] or 'all cores'}; senticlf {result['senticlf_version']}.",
        "",
        "| model | accuracy | macro F1 | ECE | ECE at T=1 | log-loss | log-loss at T=1 | calibrator | reviews/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for model in models:
        m, cal = model["metrics"], model["calibration"]
        speed = model["throughput"]["reviews_per_s"]
        lines.append(
            f"| {model['name']} | {m['accuracy']:.2%} | {m['macro_f1']:.4f} | "
            f"{cal['calibrated']['ece']:.4f} | {cal['uncalibrated']['ece']:.4f} | "
            f"{cal['calibrated']['nll']:.4f} | {cal['uncalibrated']['nll']:.4f} | "
            f"{model['calibrator']} | {speed:.1f} |"
        )
    lines += [
        "",
        f"ECE: expected calibration error, {calibration.ECE_BINS} equal-width confidence bins. "
        "Throughput includes "
        f"tokenization, batches of {models[0]['throughput']['batch_size']} sorted by length.",
    ]
    if "comparison" in result:
        c = result["comparison"]
        lines += [
            "",
            f"## {models[0]['name']} vs {models[1]['name']}",
            "",
            f"Same labels on {c['agreement']:.2%} of the {c['reviews']:,} reviews; only the first "
            f"right on {c['only_a_correct']}, only the second on {c['only_b_correct']}; "
            f"exact McNemar p = {c['mcnemar_p']:.3g}.",
        ]
    if diagram:
        lines += [
            "",
            f"Reliability diagram: `{RELIABILITY_PNG}`; coverage curve: `{COVERAGE_PNG}`.",
        ]
    for model in models:
        lines += _model_section(model, result["labels"])
    return "\n".join(lines) + "\n"


def _model_section(model: dict[str, Any], labels: list[str]) -> list[str]:
    m = model["metrics"]
    lines = [
        "",
        f"## {model['name']}",
        "",
        f"`{model['bundle']}` ({model['model_file']}), max length {model['max_length']}, "
        f"truncation {model['truncation']}.",
        "",
        "| label | precision | recall | F1 | reviews |",
        "|---|---|---|---|---|",
    ]
    for label, s in m["per_label"].items():
        lines.append(
            f"| {label} | {s['precision']:.4f} | {s['recall']:.4f} | {s['f1']:.4f} | {s['support']:,} |"
        )
    lines += ["", "Confusion matrix (rows: true label, columns: predicted):", ""]
    lines += ["| true \\ predicted | " + " | ".join(labels) + " |"]
    lines += ["|---" * (len(labels) + 1) + "|"]
    for label, row in zip(labels, m["confusion_matrix"], strict=True):
        lines.append(f"| {label} | " + " | ".join(f"{n:,}" for n in row) + " |")
    lines += _coverage_section(model["coverage"])
    lines += ["", "Accuracy by review length (tokens before truncation):", ""]
    lines += ["| tokens | reviews | accuracy |", "|---|---|---|"]
    for row in model["by_length"]:
        accuracy = "-" if row["accuracy"] is None else f"{row['accuracy']:.2%}"
        note = " (truncated)" if row["truncated"] else ""
        lines.append(f"| {row['tokens']}{note} | {row['reviews']:,} | {accuracy} |")
    groups = ", ".join(f"{g} {n:,}" for g, n in model["error_groups"].items())
    lines += [
        "",
        f"Misclassified: {model['misclassified']:,}; error groups (a review may be in several): "
        f"{groups}.",
    ]
    if "explained_errors" in model:
        lines += explained_errors.markdown(model["explained_errors"])
    return lines


def _coverage_section(summary: dict[str, Any]) -> list[str]:
    """The coverage table (every 0.05) and, when asked, the threshold for a target accuracy."""
    lines = [
        "",
        "Abstention (`--min-confidence`): answering only reviews whose top probability reaches "
        "the threshold:",
        "",
        "| min confidence | answered | coverage | accuracy of answered |",
        "|---|---|---|---|",
    ]
    for row in summary["table"]:
        accuracy = "-" if row["accuracy"] is None else f"{row['accuracy']:.2%}"
        lines.append(
            f"| {row['threshold']:.2f} | {row['answered']:,} | {row['coverage']:.1%} | {accuracy} |"
        )
    if "target" in summary:
        target, reached = summary["target"]["accuracy"], summary["target"]["reached"]
        lines.append("")
        if reached is None:
            lines.append(f"No threshold reaches accuracy {target:.1%} on these reviews.")
        else:
            lines.append(
                f"Target accuracy {target:.1%}: `--min-confidence {reached['threshold']:.4f}` "
                f"answers {reached['coverage']:.1%} of these reviews ({reached['answered']:,}) at "
                f"{reached['accuracy']:.2%}."
            )
    return lines

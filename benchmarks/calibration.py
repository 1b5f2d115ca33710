"""Temperature scaling on a real bundle: fit on held-out reviews, measure on reviews it never saw.

    python -m benchmarks.calibration --bundle export/cpu-ref --fit runs/cpu-ref/val.csv \
        --test .device/data/extra_eval.csv.gz

Fits one temperature on the fp32 logits of ``--fit`` (what export does with the run's
validation reviews), then reports ECE (15 bins) and log-loss before (T = 1) and after on
``--test``, for fp32 and for INT8 with the same temperature. The bundle's own manifest
temperature is ignored: raw logits are used throughout. Writes calibration.{json,md} and
calibration-before.png / calibration-after.png (reliability diagrams) under --out.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console

from benchmarks.common import machine
from benchmarks.common.machine import machine_line
from senticlf import artifacts, atomic, data
from senticlf.evaluation import calibration, plots, scoring
from senticlf.runtime.predictor import SentimentClassifier

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
# ECE <= 0.02, or at least half of the uncalibrated ECE (the target).
TARGET_ECE = 0.02


def labelled(path: Path, labels: list[str]) -> tuple[list[str], np.ndarray]:
    rows = data.read_table(path, labels=labels)
    return [r.text for r in rows], np.array([r.label for r in rows], dtype=np.int64)


@app.command()
def main(
    bundle: Annotated[Path, typer.Option(help="An exported bundle (fp32, INT8 optional).")],
    fit: Annotated[Path, typer.Option(help="Held-out labelled reviews to fit T on.")],
    test: Annotated[Path, typer.Option(help="Further labelled reviews to measure on.")],
    out: Annotated[Path, typer.Option(help="Results folder.")] = Path("benchmarks/results"),
    threads: int = 2,
    int8: Annotated[
        bool, typer.Option(help="Also measure the INT8 model with the fp32 temperature.")
    ] = True,
) -> None:
    progress = Console(stderr=True)
    fp32 = SentimentClassifier(bundle, quantized=False, threads=threads)
    fit_texts, fit_labels = labelled(fit, fp32.labels)
    test_texts, test_labels = labelled(test, fp32.labels)
    fit_logits, _ = scoring.run_logits(fp32, fit_texts, progress)
    fitted = calibration.calibrate(fit_logits, fit_labels)
    temperature = fitted.temperature
    models: dict[str, Any] = {}
    panels_before, panels_after = {}, {}
    classifiers = [("fp32", fp32)]
    if int8 and artifacts.INT8_MODEL in fp32.manifest.files:
        classifiers.append(("INT8", SentimentClassifier(bundle, quantized=True, threads=threads)))
    for name, classifier in classifiers:
        logits, seconds = scoring.run_logits(classifier, test_texts, progress)
        before = calibration.calibration_scores(logits, test_labels, 1.0)
        after = calibration.calibration_scores(logits, test_labels, temperature)
        models[name] = {
            "accuracy": float(np.mean(logits.argmax(axis=1) == test_labels)),
            "labels_unchanged": bool(
                np.array_equal(
                    logits.argmax(axis=1),
                    calibration.scaled_probabilities(logits, temperature).argmax(axis=1),
                )
            ),
            "before": before.to_dict(),
            "after": after.to_dict(),
            "target_met": after.ece <= TARGET_ECE or after.ece <= before.ece / 2,
            "seconds": seconds,
        }
        panels_before[f"{name}, T=1 (uncalibrated)"] = before
        panels_after[f"{name}, T={temperature:.2f} (calibrated)"] = after
    result = {
        "command": "python -m benchmarks.calibration " + " ".join(sys.argv[1:]),
        "bundle": str(bundle),
        "fit": {"file": str(fit), **fitted.to_dict()},
        "test": {"file": str(test), "reviews": len(test_texts)},
        "target": f"ECE <= {TARGET_ECE} or at most half the uncalibrated ECE",
        "models": models,
        "threads": threads,
        "machine": machine.describe(),
    }
    atomic.write_text(out / "calibration.json", json.dumps(result, indent=2) + "\n")
    atomic.write_text(out / "calibration.md", markdown(result))
    plots.plot_reliability(panels_before, out / "calibration-before.png")
    plots.plot_reliability(panels_after, out / "calibration-after.png")
    print(markdown(result))


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    fit = r["fit"]
    lines = [
        "# Temperature scaling",
        "",
        machine_line(m),
        "",
        f"Command: `{r['command']}`",
        "",
        f"Temperature **{fit['temperature']:.3f}**, fitted on the fp32 logits of {fit['reviews']} "
        f"held-out reviews (`{fit['file']}`; there ECE {fit['ece_before']:.4f} -> "
        f"{fit['ece_after']:.4f}, log-loss {fit['nll_before']:.4f} -> {fit['nll_after']:.4f}). "
        f"Measured on {r['test']['reviews']:,} further reviews it was not fitted on "
        f"(`{r['test']['file']}`):",
        "",
        "| model | accuracy | ECE before | ECE after | log-loss before | log-loss after | labels unchanged | target met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, x in r["models"].items():
        lines.append(
            f"| {name} | {x['accuracy']:.2%} | {x['before']['ece']:.4f} | {x['after']['ece']:.4f} | "
            f"{x['before']['nll']:.4f} | {x['after']['nll']:.4f} | {'yes' if x['labels_unchanged'] else 'NO'} | "
            f"{'yes' if x['target_met'] else 'no'} |"
        )
    lines += [
        "",
        f"Target: {r['target']}. ECE: expected calibration error, 15 equal-width bins. "
        "Reliability diagrams: `calibration-before.png`, `calibration-after.png`.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    app()

"""Score an exported bundle on a large labelled file with the torch-free predictor.

    python -m benchmarks.evaluate export/full --data test.csv.gz --out benchmarks/results/full-test-int8.json

Reports accuracy, F1, precision and recall, throughput, and groups the misclassified reviews
(truncated, mixed sentiment, negation, irony) with counts and a few examples of each.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.progress import track

import senticlf
from benchmarks import machine
from senticlf import data
from senticlf.training.error_analysis import GROUPS, error_groups
from senticlf.training.metrics import classification_metrics

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command()
def main(
    bundle: Path,
    test: Annotated[Path, typer.Option("--data", help="Labelled CSV/JSONL (gzip allowed).")],
    out: Annotated[Path, typer.Option(help="JSON results file.")],
    fp32: Annotated[
        bool, typer.Option("--fp32", help="Score the fp32 model instead of INT8.")
    ] = False,
    threads: int = 2,
    examples: int = 3,
) -> None:
    reviews = data.read_table(test)
    classifier = senticlf.load(bundle, quantized=not fp32, threads=threads)
    start = time.perf_counter()
    positive = np.array(
        [
            p.positive
            for p in track(
                classifier.predict_stream(r.text for r in reviews),
                total=len(reviews),
                description="scoring",
            )
        ]
    )
    elapsed = time.perf_counter() - start
    labels = np.array([r.label for r in reviews])
    wrong = np.flatnonzero((positive >= 0.5).astype(int) != labels)
    wrong_texts = [reviews[i].text for i in wrong]
    lengths = classifier.encoder.untruncated_lengths(wrong_texts)
    groups: dict[str, list[int]] = {g: [] for g in GROUPS}
    for i, text, n in zip(wrong, wrong_texts, lengths, strict=True):
        for group in error_groups(text, n, classifier.manifest.max_length):
            groups[group].append(int(i))
    result = {
        "command": f"python -m benchmarks.evaluate {bundle} --data {test} --out {out}"
        + (" --fp32" if fp32 else ""),
        "model_file": classifier.model_file,
        "reviews": len(reviews),
        "metrics": classification_metrics(labels, (positive >= 0.5).astype(int)),
        "misclassified": len(wrong),
        "error_groups": {g: len(ids) for g, ids in groups.items()},
        "error_examples": {
            g: [
                {
                    "label": int(labels[i]),
                    "positive": round(float(positive[i]), 3),
                    "text": reviews[i].text[:300],
                }
                for i in ids[:examples]
            ]
            for g, ids in groups.items()
        },
        "seconds": elapsed,
        "reviews_per_s": len(reviews) / elapsed,
        "threads": threads,
        "machine": machine.describe(),
        "manifest": {
            "base_model": classifier.manifest.base_model,
            "max_length": classifier.manifest.max_length,
            "truncation": classifier.manifest.truncation,
        },
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        json.dumps(
            {
                k: result[k]
                for k in ("reviews", "metrics", "misclassified", "error_groups", "reviews_per_s")
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    app()

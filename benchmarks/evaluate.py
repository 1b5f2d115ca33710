"""Score an exported bundle on a large labelled file: a thin caller of ``senticlf evaluate``.

    python -m benchmarks.evaluate export/full --data test.csv.gz --out benchmarks/results/full-test-int8.json

The numbers come from the package (senticlf.evaluation); this adds the machine description
and the exact command, and keeps the flat keys ``benchmarks.recipes report`` reads (reviews,
metrics, misclassified, error_groups, reviews_per_s, threads). The full report sits under
``report``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from benchmarks.common import machine
from senticlf import atomic
from senticlf.evaluation.evaluate import EvaluationRequest, evaluate

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command()
def main(
    bundle: Path,
    test: Annotated[str, typer.Option("--data", help="Labelled file (anything train reads).")],
    out: Annotated[Path, typer.Option(help="JSON results file.")],
    fp32: Annotated[
        bool, typer.Option("--fp32", help="Also score the fp32 model, side by side with INT8.")
    ] = False,
    threads: int = 2,
) -> None:
    request = EvaluationRequest(bundle=bundle, data=test, fp32=fp32, threads=threads)
    report = evaluate(request, Console(quiet=True), Console(stderr=True))
    first = report["models"][0]
    result = {
        "command": "python -m benchmarks.evaluate " + " ".join(sys.argv[1:]),
        "model_file": first["model_file"],
        "reviews": report["reviews"],
        "metrics": {
            "accuracy": first["metrics"]["accuracy"],
            "f1": first["metrics"]["per_label"].get("positive", {}).get("f1"),
            "macro_f1": first["metrics"]["macro_f1"],
        },
        "misclassified": first["misclassified"],
        "error_groups": first["error_groups"],
        "reviews_per_s": first["throughput"]["reviews_per_s"],
        "threads": threads,
        "machine": machine.describe(),
        "report": report,
    }
    atomic.write_text(out, json.dumps(result, indent=2) + "\n")
    print(
        json.dumps(
            {k: result[k] for k in ("reviews", "metrics", "misclassified", "reviews_per_s")},
            indent=2,
        )
    )


if __name__ == "__main__":
    app()

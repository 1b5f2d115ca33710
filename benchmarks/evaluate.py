"""Score an exported bundle on a large labelled file: a thin caller of ``senticlf evaluate``.

    python -m benchmarks.evaluate export/full --data test.csv.gz --out benchmarks/results/full-test-int8.json

The numbers come from the package (senticlf.evaluation), and so does the Markdown body (the
report ``senticlf evaluate --out`` writes); this adds the results header (machine, load,
command) and keeps the flat keys ``benchmarks.recipes report`` reads (reviews, metrics,
misclassified, error_groups, reviews_per_s, threads). The full report sits under ``report``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from benchmarks.common import results
from senticlf.evaluation import report as evaluation_report
from senticlf.evaluation.evaluate import EvaluationRequest, evaluate
from senticlf.runtime.options import PredictorOptions

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command()
def main(
    bundle: Path,
    test: Annotated[str, typer.Option("--data", help="Labelled file (anything train reads).")],
    out: Annotated[Path, typer.Option(help="JSON results file (the Markdown goes beside it).")],
    fp32: Annotated[
        bool, typer.Option("--fp32", help="Also score the fp32 model, side by side with INT8.")
    ] = False,
    threads: int = 2,
) -> None:
    options = PredictorOptions(threads=threads)
    request = EvaluationRequest(bundle=bundle, data=test, fp32=fp32, predictor=options)
    with results.load_window() as load:
        report = evaluate(request, Console(quiet=True), Console(stderr=True))
    first = report["models"][0]
    result = {
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
        "report": report,
    }
    # The package's report, under this file's title and header instead of its own title line.
    body = evaluation_report.to_markdown(report).split("\n", 2)[2]
    title = f"Evaluation of {bundle} on {test}"
    print(results.write(out.stem, result, [body], title=title, load=load, folder=out.parent))


if __name__ == "__main__":
    app()

"""Single-process `predict` vs Ray Data on the same reviews, on this machine.

    python -m benchmarks.ray_scale --bundle export/cpu-ref --reviews .device/data/extra_eval.csv.gz

Each engine runs the same job once: load the model, classify every review, write the results
(a CSV from the single process, a folder of Parquet files from Ray). Ray is started before the
clock starts, as a cluster a user already runs would be; its start-up time is reported apart.
On 2 cores Ray cannot be faster; the question is how much it costs (target: >= 85% of the
single process's reviews/s), because on a cluster only added machines make it faster.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from benchmarks.common import machine
from senticlf import atomic, data
from senticlf.runtime.predict_file import FilePredictionRequest, predict_file
from senticlf.runtime.predictor import SentimentClassifier

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
TARGET = 0.85


def single_process(bundle: Path, source: Path, folder: Path, threads: int | None) -> dict[str, Any]:
    start = time.perf_counter()
    classifier = SentimentClassifier(bundle, threads=threads)  # None: all cores, as `predict`
    output = folder / "single.csv"
    predict_file(FilePredictionRequest(str(source), "csv", output), classifier, Console(quiet=True))
    seconds = time.perf_counter() - start
    import pyarrow.csv

    labels = pyarrow.csv.read_csv(output).column("label").to_pylist()
    return {"seconds": seconds, "labels": labels}


def on_ray(bundle: Path, source: Path, folder: Path, workers: int, threads: int) -> dict[str, Any]:
    import pyarrow.parquet as pq

    from senticlf.scale import ray_files
    from senticlf.scale.ray_data import LABEL_COLUMN, predict_dataset

    output = folder / f"ray-{workers}x{threads}"
    start = time.perf_counter()
    dataset = ray_files.read(source, "parquet")
    predicted = predict_dataset(dataset, bundle, num_workers=workers, threads=threads)
    ray_files.write(predicted, output, "parquet")
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "labels": pq.read_table(output).column(LABEL_COLUMN).to_pylist()}


@app.command()
def main(
    bundle: Annotated[Path, typer.Option(help="Exported bundle folder.")],
    reviews: Annotated[Path, typer.Option(help="CSV of reviews (text,label), .csv.gz too.")],
    count: Annotated[int, typer.Option(help="First N reviews.")] = 2000,
    out: Annotated[Path, typer.Option(help="Results folder.")] = Path("benchmarks/results"),
) -> None:
    import pyarrow as pa
    import pyarrow.csv
    import pyarrow.parquet as pq
    import ray

    texts = [review.text for review in data.read_table(reviews)[:count]]
    cpus = os.cpu_count() or 1
    results: dict[str, Any] = {
        "command": " ".join(["python -m benchmarks.ray_scale", *sys.argv[1:]]),
        "machine": machine.describe(),
        "ray": importlib.metadata.version("ray"),
        "pyarrow": importlib.metadata.version("pyarrow"),
        "bundle": str(bundle),
        "reviews": len(texts),
        "note": "one run per engine, one engine at a time",
        "runs": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pyarrow.csv.write_csv(pa.table({"text": texts}), folder / "reviews.csv")
        pq.write_table(pa.table({"text": texts}), folder / "reviews.parquet", row_group_size=100)
        runs = {"single process": single_process(bundle, folder / "reviews.csv", folder, None)}
        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
        start = time.perf_counter()
        ray.init(num_cpus=cpus, include_dashboard=False, logging_level="ERROR",
                 _node_ip_address="127.0.0.1")  # fmt: skip
        ray.data.DataContext.get_current().enable_progress_bars = False
        results["ray_start_seconds"] = time.perf_counter() - start
        try:
            for workers, threads in ((2, 1), (1, 2)):
                runs[f"Ray {workers} x {threads}"] = on_ray(
                    bundle, folder / "reviews.parquet", folder, workers, threads
                )
                save(results, runs, len(texts), out)  # a run cut short keeps what finished
        finally:
            ray.shutdown()
    save(results, runs, len(texts), out)
    print(markdown(results))


def save(results: dict[str, Any], runs: dict[str, Any], count: int, out: Path) -> None:
    reference = runs["single process"]
    for name, run in runs.items():
        agree = sum(a == b for a, b in zip(run["labels"], reference["labels"], strict=True))
        results["runs"][name] = {
            "seconds": run["seconds"],
            "reviews_per_s": count / run["seconds"],
            "share_of_single": reference["seconds"] / run["seconds"],
            "label_agreement": agree / count,
        }
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out / "ray-scale.json", json.dumps(results, indent=2) + "\n")
    atomic.write_text(out / "ray-scale.md", markdown(results))


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        "# Single-process predict vs Ray Data",
        "",
        f"Command: `{r['command']}`",
        "",
        f"Machine: {m['cpu']} ({', '.join(m['instruction_sets'])}), {m['cores']} cores; "
        f"Ray {r['ray']}, onnxruntime {m['versions'].get('onnxruntime')}. {r['reviews']:,} IMDb "
        f"reviews, bundle `{r['bundle']}` (INT8). {r['note']}.",
        "",
        "| engine | seconds | reviews/s | vs single process | same labels |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, run in r["runs"].items():
        lines.append(
            f"| {name} | {run['seconds']:.1f} | {run['reviews_per_s']:.1f} | "
            f"{100 * run['share_of_single']:.0f}% | {100 * run['label_agreement']:.1f}% |"
        )
    lines += [
        "",
        f"Each time covers loading the model, classifying and writing the output. Ray's local "
        f"start ({r['ray_start_seconds']:.1f} s) comes before the clock, as an existing "
        f"cluster's would. Target: >= {100 * TARGET:.0f}% of the single process.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    app()

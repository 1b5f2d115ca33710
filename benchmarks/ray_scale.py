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
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

import senticlf
from benchmarks.common import internals, records, results
from benchmarks.common.records import Column
from senticlf import data

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
TARGET = 0.85


def single_process(bundle: Path, source: Path, folder: Path, threads: int | None) -> dict[str, Any]:
    start = time.perf_counter()
    classifier = senticlf.load(bundle, threads=threads)  # None: as `predict` plans it
    output = folder / "single.csv"
    internals.predict_csv(classifier, source, output)
    seconds = time.perf_counter() - start
    import pyarrow.csv

    labels = pyarrow.csv.read_csv(output).column("label").to_pylist()
    return {"seconds": seconds, "labels": labels}


def on_ray(bundle: Path, source: Path, folder: Path, workers: int, threads: int) -> dict[str, Any]:
    import pyarrow.parquet as pq

    import senticlf.ray

    output = folder / f"ray-{workers}x{threads}"
    start = time.perf_counter()
    dataset = senticlf.ray.read(source, "parquet")
    predicted = senticlf.ray.predict_dataset(dataset, bundle, num_workers=workers, threads=threads)
    senticlf.ray.write(predicted, output, "parquet")
    seconds = time.perf_counter() - start
    labels = pq.read_table(output).column(internals.ray_label_column()).to_pylist()
    return {"seconds": seconds, "labels": labels}


@app.command()
def main(
    bundle: Annotated[Path, typer.Option(help="Exported bundle folder.")],
    reviews: Annotated[Path, typer.Option(help="CSV of reviews (text,label), .csv.gz too.")],
    count: Annotated[int, typer.Option(help="First N reviews.")] = 2000,
    out: Annotated[Path, typer.Option(help="Results folder.")] = results.FOLDER,
) -> None:
    import pyarrow as pa
    import pyarrow.csv
    import pyarrow.parquet as pq
    import ray

    texts = [review.text for review in data.read_table(reviews)[:count]]
    cpus = os.cpu_count() or 1
    result: dict[str, Any] = {
        "ray": importlib.metadata.version("ray"),
        "pyarrow": importlib.metadata.version("pyarrow"),
        "bundle": str(bundle),
        "reviews": len(texts),
        "note": "one run per engine, one engine at a time",
        "runs": {},
    }
    load = results.LoadWindow()
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
        result["ray_start_seconds"] = time.perf_counter() - start
        try:
            for workers, threads in ((2, 1), (1, 2)):
                runs[f"Ray {workers} x {threads}"] = on_ray(
                    bundle, folder / "reviews.parquet", folder, workers, threads
                )
                save(result, runs, len(texts), out, load)  # a run cut short keeps what finished
        finally:
            ray.shutdown()
    load.close()
    print(save(result, runs, len(texts), out, load))


@dataclass(frozen=True)
class EngineRun:
    """One engine's single run of the whole job (load, classify, write)."""

    name: str
    seconds: float
    reviews_per_s: float
    share_of_single: float
    label_agreement: float


COLUMNS: tuple[Column[EngineRun], ...] = (
    Column("engine", lambda e: e.name),
    Column("seconds", lambda e: f"{e.seconds:.1f}", right=True),
    Column("reviews/s", lambda e: f"{e.reviews_per_s:.1f}", right=True),
    Column("vs single process", lambda e: f"{100 * e.share_of_single:.0f}%", right=True),
    Column("same labels", lambda e: f"{100 * e.label_agreement:.1f}%", right=True),
)
TITLE = "Single-process predict vs Ray Data"


def save(
    result: dict[str, Any], runs: dict[str, Any], count: int, out: Path, load: results.LoadWindow
) -> str:
    reference = runs["single process"]
    rows = []
    for name, run in runs.items():
        agree = sum(a == b for a, b in zip(run["labels"], reference["labels"], strict=True))
        rows.append(
            EngineRun(
                name,
                seconds=run["seconds"],
                reviews_per_s=count / run["seconds"],
                share_of_single=reference["seconds"] / run["seconds"],
                label_agreement=agree / count,
            )
        )
    result["runs"] = records.keyed(rows)
    return results.write("ray-scale", result, report(result), title=TITLE, load=load, folder=out)


def report(r: dict[str, Any]) -> list[results.Block]:
    rows = [EngineRun(name, **run) for name, run in r["runs"].items()]
    return [
        f"Ray {r['ray']}, pyarrow {r['pyarrow']}. {r['reviews']:,} IMDb reviews, bundle "
        f"`{r['bundle']}` (INT8). {r['note']}.",
        records.Table(rows, COLUMNS),
        f"Each time covers loading the model, classifying and writing the output. Ray's local "
        f"start ({r['ray_start_seconds']:.1f} s) comes before the clock, as an existing "
        f"cluster's would. Target: >= {100 * TARGET:.0f}% of the single process.",
    ]


if __name__ == "__main__":
    app()

"""``senticlf predict INPUT --engine ray``: files in, a folder of files out, on Ray Data.

Reading and writing use Ray's own readers and writers, so every worker reads and writes its own
share of the rows. Everything a user can get wrong (a missing input, an unknown format, a missing
text column, a tampered bundle, an unreachable cluster) is checked before any output exists or
comes back from the workers as one :class:`SenticlfError` line, and the output folder is written
under a temporary name and moved into place only when complete.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv
import ray
import ray.data

from senticlf import artifacts, atomic, tables
from senticlf.errors import SenticlfError, first_line
from senticlf.runtime import hub
from senticlf.scale.options import RayJob
from senticlf.scale.ray_data import predict_dataset

# senticlf.tables' format names that Ray reads (gzip and plain text it does not).
READ_FORMATS = ("parquet", "csv", "tsv", "jsonl", "json")
# What Ray writes; a TSV input is answered in CSV, JSON (Lines or array) in JSON Lines.
WRITE_FORMATS = {
    "parquet": "parquet",
    "csv": "csv",
    "tsv": "csv",
    "jsonl": "jsonl",
    "json": "jsonl",
}
# Where workers find the bundle when it travels in the job's runtime_env: its working_dir.
SHIPPED_BUNDLE = "."
# Read and write tasks are I/O and Arrow decoding, short next to inference, so they hold no CPU:
# the model workers may then take every core (workers x threads = CPUs) without starving them.
# With a CPU each, Ray deadlocks: the workers wait for blocks that the read tasks, queued behind
# the workers' CPUs, never produce.
IO_TASKS: dict[str, Any] = {"num_cpus": 0}


def input_format(path: Path) -> str:
    """The format of INPUT (a file, or a folder of files of one format), after cheap checks."""
    if not path.exists():
        raise SenticlfError(f"input {path} does not exist")
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    found = [tables.detect(p) for p in files if not p.name.startswith((".", "_"))]
    formats = {t.format if not t.compressed else None for t in found}
    if len(formats) != 1 or not formats <= set(READ_FORMATS):
        suffixes = sorted({"".join(t.path.suffixes[-2:]) or "(no suffix)" for t in found})
        raise SenticlfError(
            f"{path}: --engine ray reads .parquet, .csv, .tsv, .jsonl, .ndjson or .json, not "
            f"gzipped (a file or a folder of one kind); found {', '.join(suffixes) or 'no files'}"
        )
    fmt = formats.pop()
    assert fmt is not None  # for mypy: None was refused above
    if fmt != "parquet":  # text formats: UTF-8 and not empty, as the local engine checks them
        for table in found:
            tables.check(table.path)
    return fmt


def output_format(output: Path, input_fmt: str) -> str:
    """OUT's suffix names its format (a folder ``preds.parquet/``); without one, INPUT's."""
    named = tables.detect(output).format
    return WRITE_FORMATS[named if named in WRITE_FORMATS else input_fmt]


def read(path: str | Path, fmt: str) -> ray.data.Dataset:
    """INPUT as a Dataset whose read tasks hold no CPU (see :data:`IO_TASKS`)."""
    if fmt == "parquet":
        # Ray's V2 Parquet path lists files in a task that ignores num_cpus; V1 honours it.
        ray.data.DataContext.get_current().use_datasource_v2 = False
        return ray.data.read_parquet(str(path), num_cpus=IO_TASKS["num_cpus"])
    if fmt in ("csv", "tsv"):  # reviews often hold quoted line breaks
        parse = pyarrow.csv.ParseOptions(
            newlines_in_values=True, delimiter="\t" if fmt == "tsv" else ","
        )
        return ray.data.read_csv(str(path), parse_options=parse, num_cpus=IO_TASKS["num_cpus"])
    # JSON Lines line by line; a .json file may also be one array, which Arrow's reader
    # (lines=False) takes as well.
    return ray.data.read_json(str(path), lines=fmt == "jsonl", num_cpus=IO_TASKS["num_cpus"])


def write(dataset: ray.data.Dataset, folder: str | Path, fmt: str) -> None:
    if fmt == "parquet":
        dataset.write_parquet(str(folder), ray_remote_args=IO_TASKS)
    elif fmt == "csv":
        dataset.write_csv(str(folder), ray_remote_args=IO_TASKS)
    else:
        dataset.write_json(str(folder), ray_remote_args=IO_TASKS, force_ascii=False)


def run(job: RayJob) -> tuple[str, int]:
    """Predict ``job.source`` into the folder ``job.output``; returns (its format, file count)."""
    bundle = hub.resolve_bundle(job.bundle or artifacts.newest_bundle())
    fmt = input_format(job.source)
    out_fmt = output_format(job.output, fmt)
    runtime_env = {"working_dir": str(bundle)} if job.ship_bundle else None
    with (
        atomic.atomic_dir(job.output, job.overwrite) as staging,
        ray_session(job.address, runtime_env),
        user_errors(job),
    ):
        predicted = predict_dataset(
            read(job.source, fmt),
            bundle,
            job.predictor,
            text_column=job.text_column,
            num_workers=job.num_workers,
            worker_bundle=SHIPPED_BUNDLE if job.ship_bundle else None,
        )
        write(predicted, staging, out_fmt)
        files = sum(1 for _ in staging.iterdir())
    return out_fmt, files


@contextlib.contextmanager
def ray_session(address: str | None, runtime_env: dict[str, Any] | None) -> Iterator[None]:
    """Start a local Ray (no ``address``) or join a cluster; leave it as it was found.

    A Ray already initialised by the caller (a notebook, a test) is reused and left running.
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no phoning home from the CLI
    if ray.is_initialized():
        yield
        return
    try:
        ray.init(
            address=address, runtime_env=runtime_env, include_dashboard=False,
            logging_level=logging.WARNING, configure_logging=True,
            _node_ip_address=None if address else "127.0.0.1",  # a local Ray stays on loopback
        )  # fmt: skip
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise SenticlfError(f"cannot start or reach {where}: {first_line(exc)}") from None
    try:
        yield
    finally:
        ray.shutdown()


@contextlib.contextmanager
def user_errors(job: RayJob) -> Iterator[None]:
    """Turn what workers raise about the user's input or bundle into one SenticlfError line.

    Ray wraps a worker's exception in its own types, with the remote traceback in the message;
    the user needs the original first line. Anything else is a bug and keeps its traceback.
    """
    try:
        yield
    except SenticlfError as exc:
        if type(exc) is SenticlfError:
            raise
        raise SenticlfError(first_line(_root(exc))) from None
    except Exception as exc:
        root = _root(exc)
        if isinstance(root, SenticlfError):
            raise SenticlfError(first_line(root)) from None
        if isinstance(root, pa.ArrowException):
            raise SenticlfError(f"{job.source}: cannot read it: {first_line(root)}") from None
        raise


def _root(exc: BaseException) -> BaseException:
    """The innermost cause Ray kept: a SenticlfError or Arrow error from a worker, if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    found = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, SenticlfError | pa.ArrowException):
            found = current
        cause = getattr(current, "cause", None)
        current = (
            cause
            if isinstance(cause, BaseException)
            else (current.__cause__ or current.__context__)
        )
    return found

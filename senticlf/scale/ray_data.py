"""Batch prediction on Ray Data: one classifier per worker, loaded once, checked on the worker.

Following Ray's batch-inference recipe, :class:`BundleWorker` is a callable class handed to
``map_batches``: Ray builds it once per actor, so each worker opens its ONNX Runtime session once
and reuses it for every batch. What crosses the wire is the bundle's *path* and its expected
sha256 sums, never a pickled session (sessions do not pickle, and a model per batch would be
shipped thousands of times).

ONNX Runtime sizes its thread pool from the host's cores, not from what Ray grants an actor, so
N workers on a C-core node would start N x C threads. Each actor here asks Ray for exactly the
CPUs its classifier uses (streams x threads) and tells the classifier so (``cores``), so
workers x streams x threads never exceeds the cores.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import ray
import ray.data

from senticlf import artifacts, tables
from senticlf.errors import SenticlfError
from senticlf.runtime import hub, outputs
from senticlf.runtime.inputs import InputText
from senticlf.runtime.options import PredictorOptions
from senticlf.runtime.predict_file import classify_items
from senticlf.runtime.predictor import Prediction, SentimentClassifier

# Prediction columns added to every input row. Prefixed so that a labelled file's own ``label``
# (an evaluation set, say) survives beside the prediction instead of being overwritten.
LABEL_COLUMN = "predicted_label"
SCORE_COLUMN = "predicted_score"
# Rows handed to a worker per call: enough for length sorting to pay off (the predictor sorts
# within each call), few enough that a batch of long reviews stays small in memory.
DEFAULT_ROWS_PER_CALL = 256


@dataclass(frozen=True)
class WorkerPlan:
    """How many model replicas run, and how many CPUs each one's calls keep busy."""

    workers: int
    threads: int  # CPUs per worker: its streams x intra-op threads

    @property
    def cpus(self) -> int:
        return self.workers * self.threads


def cpus_per_worker(options: PredictorOptions) -> int | None:
    """What one worker's classifier asks for: streams x threads, if either was given."""
    if options.threads is None and options.streams is None:
        return None
    return (options.threads or 1) * (options.streams or 1)


def plan_workers(available_cpus: int, workers: int | None, threads: int | None) -> WorkerPlan:
    """Fill the cluster's CPUs without oversubscribing them.

    Given neither, one single-threaded worker per CPU (measured fastest on 2 cores, see
    benchmarks/results/ray-scale.md); given one, the other divides the CPUs.
    """
    for name, value in (("--num-workers", workers), ("--threads", threads)):
        if value is not None and value < 1:
            raise SenticlfError(f"{name} must be at least 1, got {value}")
    cpus = max(1, available_cpus)
    if workers is None:
        threads = threads or 1
        workers = max(1, cpus // threads)
    elif threads is None:
        threads = max(1, cpus // workers)
    plan = WorkerPlan(workers, threads)
    if plan.cpus > cpus:
        raise SenticlfError(
            f"{plan.workers} worker(s) x {plan.threads} thread(s) need {plan.cpus} CPUs; "
            f"the Ray cluster has {cpus}; lower --num-workers or --threads"
        )
    return plan


def _gpu_workers(device: str | None, workers: int | None) -> tuple[str | None, int | None]:
    """With ``device="cuda"``, one worker per GPU of the cluster by default; a cluster without
    GPUs warns and runs on CPUs (a worker asking for a GPU would wait for ever)."""
    if device != "cuda":
        return device, workers
    gpus = int(ray.cluster_resources().get("GPU", 0))
    if gpus == 0:
        warnings.warn("--device cuda: the Ray cluster has no GPUs; running on CPUs", stacklevel=3)
        return "cpu", workers
    return device, workers or gpus


def prediction_columns(labels: list[str]) -> list[str]:
    return [LABEL_COLUMN, SCORE_COLUMN, *(outputs.probability_column(x) for x in labels)]


def pick_text_column(schema: pa.Schema | Any, asked: str | None, source: str) -> str:
    """The text column of ``schema``, picked as senticlf.tables picks it, and checked to be text."""
    column = tables.pick_column(source, list(schema.names), asked)
    kind = schema.field(column).type if isinstance(schema, pa.Schema) else None
    if kind is not None and not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise SenticlfError(f"{source}: column {column!r} holds {kind}, not text")
    return column


class BundleWorker:
    """One Ray actor's classifier: opened once, checked against the driver's bundle first.

    ``expected_files`` are the sha256 sums the driver read; a worker whose copy of the bundle
    differs (another node's stale copy, a truncated transfer, a tampered file) refuses to start
    instead of labelling a share of the rows with a different model.
    """

    def __init__(
        self,
        bundle_dir: str,
        expected_files: dict[str, str],
        text_column: str,
        options: PredictorOptions,
    ) -> None:
        bundle = Path(bundle_dir)
        found = artifacts.read_manifest(bundle, verify=False).files
        if found != expected_files:
            raise SenticlfError(
                f"bundle {bundle} on this worker is not the one the driver checked "
                f"({artifacts.MANIFEST} lists other files or sha256 sums); copy the same bundle"
            )
        # SentimentClassifier verifies every file's sha256 against the manifest on this host.
        self.classifier = SentimentClassifier(bundle, options)
        self.text_column = text_column

    def __call__(self, batch: pa.Table) -> pa.Table:
        texts = batch.column(self.text_column).to_pylist()
        items = (
            InputText(i, t if isinstance(t, str) and t.strip() else None)
            for i, t in enumerate(texts)
        )
        predictions = [p for _, p in classify_items(self.classifier, items)]
        for name, values in _columns(predictions, self.classifier.labels).items():
            batch = batch.append_column(name, values)
        return batch


def _columns(predictions: list[Prediction | None], labels: list[str]) -> dict[str, pa.Array]:
    """Prediction columns; blank texts get nulls, as ``predict`` reports them without a label."""
    columns = {
        LABEL_COLUMN: pa.array([p.label if p else None for p in predictions], pa.string()),
        SCORE_COLUMN: pa.array([p.score if p else None for p in predictions], pa.float64()),
    }
    for label in labels:
        column = [p.scores[label] if p else None for p in predictions]
        columns[outputs.probability_column(label)] = pa.array(column, pa.float64())
    return columns


def predict_dataset(
    dataset: ray.data.Dataset,
    bundle: str | Path,
    options: PredictorOptions | None = None,
    *,
    text_column: str | None = None,
    num_workers: int | None = None,
    rows_per_call: int = DEFAULT_ROWS_PER_CALL,
    worker_bundle: str | None = None,
    preserve_order: bool = True,
) -> ray.data.Dataset:
    """``dataset`` with ``predicted_label``, ``predicted_score`` and ``p_<label>`` columns added.

    Lazy, like every Ray Dataset: nothing runs until it is written or iterated. The bundle is
    checked here (so a bad one fails before any worker starts) and again on every worker.
    ``options`` are the predictor's (one set for every worker; ``threads`` x ``streams`` are
    the CPUs each worker holds, 1 by default). ``worker_bundle`` is where workers find the
    bundle when that differs from the driver's path, e.g. ``"."`` when the bundle travels as
    the job's runtime_env ``working_dir``. Blank texts keep their row with null predictions.
    ``preserve_order`` keeps rows in input order.

    The workers hold their CPUs for the whole run: read ``dataset`` with tasks that hold none
    (``senticlf.scale.ray_files.read`` does) or leave CPUs for them, else Ray waits for ever
    for a CPU to read with. ``device="cuda"`` gives each worker one GPU (Ray hides GPUs from
    actors that do not ask for one) and runs the fp16 model there.
    """
    options = options or PredictorOptions()
    bundle_dir = hub.resolve_bundle(bundle)  # a folder, or a Hub id fetched on the driver
    manifest = artifacts.read_manifest(bundle_dir, verify=True)
    column = pick_text_column(dataset.schema(fetch_if_missing=True), text_column, "the dataset")
    clashes = [c for c in prediction_columns(manifest.labels) if c in dataset.columns()]
    if clashes:
        raise SenticlfError(f"the input already has column(s) {clashes}; rename them first")
    if rows_per_call < 1:
        raise SenticlfError(f"rows per call must be at least 1, got {rows_per_call}")
    device, num_workers = _gpu_workers(options.device, num_workers)
    cpus = int(ray.cluster_resources().get("CPU", 1))
    plan = plan_workers(cpus, num_workers, cpus_per_worker(options))
    worker_options = options.with_changes(device=device, cores=plan.threads)
    predicted = dataset.map_batches(
        BundleWorker,
        fn_constructor_kwargs=dict(
            bundle_dir=worker_bundle or str(bundle_dir.resolve()), expected_files=manifest.files,
            text_column=column, options=worker_options,
        ),
        batch_format="pyarrow", batch_size=rows_per_call,
        compute=ray.data.ActorPoolStrategy(size=plan.workers), num_cpus=plan.threads,
        num_gpus=1 if device == "cuda" else None,
    )  # fmt: skip
    predicted.context.execution_options.preserve_order = preserve_order
    return predicted

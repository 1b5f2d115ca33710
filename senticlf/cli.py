"""The ``senticlf`` command line: train, distill, export, predict, evaluate, info, serve.

Each command imports its own stage inside its body: ``senticlf --help`` and ``predict`` never
pay for (or need) torch and transformers. Problems a user can fix end in one line on stderr
and exit code 2; no traceback.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console

from senticlf import __version__, artifacts, interrupts
from senticlf.errors import SenticlfError, first_line
from senticlf.export.options import ExportOptions
from senticlf.runtime.options import PredictorOptions  # already loaded by `import senticlf`
from senticlf.serve.config import ServeConfig
from senticlf.training.config import TrainConfig

MODEL_HELP = (
    "The bundle's fp32 or INT8 model (default: the one export measured faster on this CPU; "
    "INT8 on another CPU)."
)
BATCH_HELP = (
    "Most reviews per ONNX Runtime call (default: the fastest size measured for the model on "
    "this CPU). Capped where the model stops being batch-invariant (dynamic INT8: 1), so a "
    "review's answer never depends on the other reviews in the file."
)


def quantized_flag(fp32: bool | None) -> bool | None:
    """--fp32 / --int8 / neither, as the predictor's ``quantized`` argument."""
    return None if fp32 is None else not fp32


DEVICE_HELP = (
    "cpu or cuda (default: cuda when onnxruntime-gpu sees a GPU). On CUDA the bundle's fp16 "
    "model runs (fp32 without one, or with --fp32), never INT8; cuda where there is none "
    "warns and runs on the CPU."
)


# The predictor's options, declared once for predict, evaluate and serve.
Threads = Annotated[
    int | None,
    typer.Option(
        help="ONNX Runtime intra-op threads of one call [default: as measured for this CPU]."
    ),
]
Streams = Annotated[
    int | None,
    typer.Option(
        help="ONNX Runtime calls run at once over one session [default: as measured for this "
        "CPU, else one per core]. Answers are the same whatever the number."
    ),
]
BatchSize = Annotated[int | None, typer.Option(help=BATCH_HELP)]
Fp32 = Annotated[bool | None, typer.Option("--fp32/--int8", help=MODEL_HELP)]
Device = Annotated[str | None, typer.Option(help=DEVICE_HELP)]
Threshold = Annotated[
    float | None,
    typer.Option(help="Binary bundles: P(positive) at which a review is positive [0.5]."),
]


if TYPE_CHECKING:
    from senticlf.runtime.predictor import SentimentClassifier
    from senticlf.scale.options import RayJob


# Wherever a bundle is named, a Hugging Face Hub id works too (senticlf/runtime/hub.py).
HUB_ID = "Hugging Face Hub id (org/name or org/name@revision, fetched once, then cached)"
# The input and the bundle of predict and explain, declared once.
ReviewsFile = Annotated[
    str,
    typer.Argument(
        help="Reviews, one per line; '-' reads stdin; a table file (.csv, .tsv, .jsonl, "
        ".ndjson, .json, .parquet, gzipped too) needs a text column."
    ),
]
BundleOption = Annotated[
    Path | None,
    typer.Option(help=f"Bundle folder or {HUB_ID} (default: the newest under export/)."),
]

app = typer.Typer(
    help="Fine-tune a sentiment classifier and ship it as a small, torch-free ONNX model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err = Console(stderr=True)
T = TypeVar("T")
# One source of truth for training defaults: the validated config (a light, torch-free module).
DEFAULTS = TrainConfig()
EXPORT_DEFAULTS = ExportOptions()
SERVE_DEFAULTS = ServeConfig()  # standard library only: the web stack loads inside `serve`


def _run(action: Callable[[], T], sigterm_as_interrupt: bool = True) -> T:
    """Turn a SenticlfError into one red line and exit code 2; Ctrl-C, and SIGTERM unless the
    command stops on it by itself (serve), into exit code 130 after the same clean-up."""
    try:
        if not sigterm_as_interrupt:
            return action()
        with interrupts.sigterm_as_interrupt():
            return action()
    except SenticlfError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        err.print("[bold red]interrupted[/]")
        raise typer.Exit(130) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"senticlf {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """senticlf: train -> export -> predict."""


# ---------------------------------------------------------------------------- train


@app.command()
def train(
    data: Annotated[
        str,
        typer.Option(
            help="Hub dataset id, aclImdb folder or .tar.gz, or a table file "
            "(.csv, .tsv, .jsonl, .ndjson, .json, .parquet; gzipped too)."
        ),
    ] = DEFAULTS.data,
    eval_data: Annotated[
        str | None,
        typer.Option(help="Evaluation file for table data (else held out from --data)."),
    ] = None,
    text_column: Annotated[str | None, typer.Option(help="Text column of table data.")] = None,
    label_column: Annotated[
        str | None,
        typer.Option(help="Label column of table data (0/1, neg/pos, negative/positive, ...)."),
    ] = None,
    labels: Annotated[
        str | None,
        typer.Option(
            help="Label names in output order, comma-separated, e.g. negative,neutral,positive "
            "[default: from the data]."
        ),
    ] = None,
    base_model: Annotated[
        str, typer.Option(help="Hub id or local folder of the pretrained encoder.")
    ] = DEFAULTS.base_model,
    output: Annotated[
        Path | None, typer.Option(help="Run folder [default: runs/<timestamp>].")
    ] = None,
    train_size: Annotated[
        int | None, typer.Option(help="Training reviews (seeded subset of the train split).")
    ] = DEFAULTS.train_size,
    val_size: Annotated[
        int | None, typer.Option(help="Validation reviews (seeded subset of the test split).")
    ] = DEFAULTS.val_size,
    full: Annotated[
        bool,
        typer.Option(
            "--full", help="Train on the whole train split, validate on the whole test split."
        ),
    ] = False,
    epochs: Annotated[int, typer.Option(help="Passes over the training subset.")] = DEFAULTS.epochs,
    lr: Annotated[
        float, typer.Option("--lr", help="Peak AdamW learning rate.")
    ] = DEFAULTS.learning_rate,
    batch_size: Annotated[
        int, typer.Option(help="Reviews per step and device.")
    ] = DEFAULTS.batch_size,
    weight_decay: Annotated[
        float, typer.Option(help="AdamW weight decay.")
    ] = DEFAULTS.weight_decay,
    warmup_ratio: Annotated[
        float, typer.Option(help="Share of steps with a linear learning-rate warm-up.")
    ] = DEFAULTS.warmup_ratio,
    scheduler: Annotated[
        str, typer.Option(help="linear, cosine or constant_with_warmup.")
    ] = DEFAULTS.scheduler,
    max_length: Annotated[
        int, typer.Option(help="Tokens per review, special tokens included.")
    ] = DEFAULTS.max_length,
    truncation: Annotated[
        str, typer.Option(help="head+tail keeps the start and end of long reviews; head the start.")
    ] = DEFAULTS.truncation,
    dropout: Annotated[float | None, typer.Option(help="Override the model's dropout.")] = None,
    gradient_accumulation: Annotated[
        int, typer.Option(help="Steps per optimizer update.")
    ] = DEFAULTS.gradient_accumulation,
    seed: Annotated[
        int, typer.Option(help="Seed of the subsets, the head and the shuffling.")
    ] = DEFAULTS.seed,
    device: Annotated[
        str, typer.Option(help="auto (CUDA when present), cpu or cuda.")
    ] = DEFAULTS.device,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing run folder.")
    ] = False,
    resume: Annotated[
        Path | None,
        typer.Option(help="Continue an interrupted run from its last completed epoch."),
    ] = None,
    report_to: Annotated[
        str,
        typer.Option(
            help="Also log each epoch's figures to none, tensorboard (RUN/logs), mlflow or wandb."
        ),
    ] = DEFAULTS.report_to,
) -> None:
    """Fine-tune a classifier; defaults are the reference experiment (1,000 / 200 IMDb reviews)."""

    def action() -> None:
        from senticlf.training.config import TrainConfig

        if resume is not None:
            config = TrainConfig.load(resume)
            run_dir = resume
        else:
            config = TrainConfig(
                data=data, eval_data=eval_data, text_column=text_column, label_column=label_column,
                base_model=base_model, train_size=None if full else train_size,
                val_size=None if full else val_size, epochs=epochs, learning_rate=lr,
                batch_size=batch_size, weight_decay=weight_decay, warmup_ratio=warmup_ratio,
                scheduler=scheduler, max_length=max_length, truncation=truncation, dropout=dropout,
                gradient_accumulation=gradient_accumulation, seed=seed, device=device,
                labels=labels.split(",") if labels else None, report_to=report_to,
            )  # fmt: skip
            run_dir = output or artifacts.new_run_dir()
        from senticlf.training.run_folder import is_main_process
        from senticlf.training.trainer import train as run_training

        run_training(config, run_dir, resume=resume is not None, overwrite=overwrite, console=err)
        if not is_main_process():
            return  # under torchrun / accelerate launch the main process reports
        err.print(
            f"[bold green]run written to {run_dir}[/]; next: senticlf export {run_dir} --quantize"
        )

    _run(action)


# ---------------------------------------------------------------------------- distill


@app.command()
def distill(
    teacher: Annotated[
        Path | None, typer.Argument(help="A finished run folder from `senticlf train`.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Run folder [default: runs/<timestamp>].")
    ] = None,
    layers: Annotated[
        int | None,
        typer.Option(help="Keep this many of the teacher's layers [default: half of them]."),
    ] = None,
    student: Annotated[
        str | None,
        typer.Option(help="Or start from this encoder (hub id or folder; teacher's vocabulary)."),
    ] = None,
    temperature: Annotated[
        float, typer.Option(help="Softens both distributions before they are compared.")
    ] = 2.0,
    alpha: Annotated[
        float,
        typer.Option(help="Weight of the teacher's soft targets; 1 - alpha on the hard labels."),
    ] = 0.5,
    unlabelled: Annotated[
        Path | None,
        typer.Option(
            help="Extra texts only the teacher labels (one per line, a table file, or an aclImdb "
            "folder/archive: its train/unsup reviews)."
        ),
    ] = None,
    teacher_bundle: Annotated[
        Path | None,
        typer.Option(
            help="Label the texts with the teacher's exported bundle (its INT8 model, or the "
            "model.onnx given), several times faster than PyTorch on a CPU."
        ),
    ] = None,
    max_length: Annotated[
        int | None, typer.Option(help="Tokens per review [default: the teacher's].")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="[default: the teacher's]")] = None,
    lr: Annotated[
        float | None, typer.Option("--lr", help="Peak learning rate [default: the teacher's].")
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help="[default: the teacher's]")] = None,
    seed: Annotated[int | None, typer.Option(help="[default: the teacher's]")] = None,
    device: Annotated[
        str | None, typer.Option(help="auto, cpu or cuda [default: the teacher's].")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing run folder.")
    ] = False,
    resume: Annotated[
        Path | None,
        typer.Option(help="Continue an interrupted distillation (teacher logits are cached)."),
    ] = None,
) -> None:
    """Distil a finished run into a smaller student, trained on the teacher's soft labels."""

    def action() -> None:
        from senticlf.training import distill as distillation

        if resume is not None:
            config = distillation.DistillConfig.load(resume)
            run_dir = resume
        elif teacher is None:
            raise SenticlfError("distill needs a TEACHER_RUN folder (or --resume RUN)")
        else:
            config = distillation.config_from_teacher(
                teacher, layers=layers, student=student, temperature=temperature, alpha=alpha,
                unlabelled=str(unlabelled) if unlabelled else None, max_length=max_length,
                teacher_bundle=str(teacher_bundle) if teacher_bundle else None,
                epochs=epochs, learning_rate=lr, batch_size=batch_size, seed=seed, device=device,
            )  # fmt: skip
            run_dir = output or artifacts.new_run_dir()
        distillation.distill(
            config, run_dir, resume=resume is not None, overwrite=overwrite, console=err
        )
        err.print(
            f"[bold green]student written to {run_dir}[/]; next: senticlf export {run_dir} "
            "--quantize"
        )

    _run(action)


# ---------------------------------------------------------------------------- export


@app.command()
def export(
    run_dir: Annotated[Path, typer.Argument(help="A finished run folder from `senticlf train`.")],
    output: Annotated[
        Path | None, typer.Option(help="Bundle folder [default: export/<run name>].")
    ] = None,
    quantize: Annotated[
        bool, typer.Option("--quantize", help="Add a dynamic INT8 model beside the fp32 one.")
    ] = EXPORT_DEFAULTS.quantize,
    preset: Annotated[
        str | None,
        typer.Option(
            help="CPU family whose INT8 variants to try: avx512_vnni, avx512, avx2 or arm64; "
            "this CPU must support it [default: this CPU's]."
        ),
    ] = EXPORT_DEFAULTS.preset,
    max_accuracy_drop: Annotated[
        float, typer.Option(help="Fail when INT8 loses more accuracy points than this.")
    ] = EXPORT_DEFAULTS.max_accuracy_drop,
    min_agreement: Annotated[
        float, typer.Option(help="Fail when INT8 agrees with fp32 on fewer reviews than this.")
    ] = EXPORT_DEFAULTS.min_agreement,
    opset: Annotated[int | None, typer.Option(help="ONNX opset [default: Optimum's].")] = None,
    optimize: Annotated[
        bool,
        typer.Option(
            help="Fuse attention, LayerNorm and GELU with ONNX Runtime's optimizer first."
        ),
    ] = EXPORT_DEFAULTS.optimize,
    calibrate: Annotated[
        bool,
        typer.Option(
            help="Calibrate scores (temperature, Platt or isotonic, chosen by cross-validated "
            "log-loss) so they are probabilities; the label is the most probable after it."
        ),
    ] = EXPORT_DEFAULTS.calibrate,
    calibration_data: Annotated[
        str | None,
        typer.Option(
            help="Labelled reviews to calibrate on (any source train --data reads) "
            "[default: the run's validation reviews]."
        ),
    ] = EXPORT_DEFAULTS.calibration_data,
    fp16: Annotated[
        bool,
        typer.Option(
            "--fp16",
            help="Add a float16 model (float32 inputs/outputs), the one used on CUDA; checked "
            "against fp32 like INT8 (on the CPU provider when no GPU is present).",
        ),
    ] = EXPORT_DEFAULTS.fp16,
    plan_runs: Annotated[
        int,
        typer.Option(
            help="Fresh processes per call plan (streams x threads x spinning) when timing which "
            "runs fastest and steadiest here; 0 skips it (the runtime's default plan is used)."
        ),
    ] = EXPORT_DEFAULTS.plan_runs,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite", help="Replace an existing bundle (only once the new one is complete)."
        ),
    ] = False,
) -> None:
    """Export a run to ONNX with Optimum, optionally INT8 and fp16, and check it against PyTorch."""

    def action() -> None:
        options = ExportOptions(
            quantize=quantize, preset=preset, max_accuracy_drop=max_accuracy_drop,
            min_agreement=min_agreement, overwrite=overwrite, opset=opset, optimize=optimize,
            calibrate=calibrate, calibration_data=calibration_data, fp16=fp16,
            plan_runs=plan_runs,
        )  # fmt: skip
        from senticlf.export.bundle import export_run

        export_run(run_dir, output or artifacts.default_bundle_dir(run_dir), options, err)

    _run(action)


# ---------------------------------------------------------------------------- predict


@app.command()
def predict(
    file: ReviewsFile,
    model: BundleOption = None,
    fmt: Annotated[str, typer.Option("--format", help="text, jsonl or csv.")] = "text",
    output: Annotated[
        Path | None, typer.Option(help="Write here (atomically) instead of stdout.")
    ] = None,
    text_column: Annotated[str | None, typer.Option(help="Text column of table input.")] = None,
    fp32: Fp32 = None,
    device: Device = None,
    batch_size: BatchSize = None,
    threads: Threads = None,
    streams: Streams = None,
    threshold: Threshold = None,
    min_confidence: Annotated[
        float | None,
        typer.Option(
            help="Label a review 'uncertain' when the probability of its label is below this "
            "(scores are still given); applies after --threshold."
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing --output file.")
    ] = False,
    engine: Annotated[
        str, typer.Option(help="local (this process) or ray (Ray Data; needs senticlf[ray]).")
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(help="Ray: cluster address (host:port) [default: start a local Ray]."),
    ] = None,
    num_workers: Annotated[
        int | None,
        typer.Option(help="Ray: model replicas [default: cluster CPUs / --threads]."),
    ] = None,
    ship_bundle: Annotated[
        bool,
        typer.Option(
            "--ship-bundle",
            help="Ray: send the bundle to workers in the runtime_env (no shared storage).",
        ),
    ] = False,
) -> None:
    """Classify reviews with an exported bundle (ONNX Runtime only: no torch)."""

    def action() -> None:
        from senticlf.runtime.predict_file import ENGINES, FilePredictionRequest, predict_file
        from senticlf.scale.options import RayJob, refuse_on_local_engine

        if engine not in ENGINES:
            raise SenticlfError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        options = PredictorOptions(
            quantized=quantized_flag(fp32), device=device, threads=threads, streams=streams,
            batch_size=batch_size, threshold=threshold, min_confidence=min_confidence,
        )  # fmt: skip
        if engine == "ray":
            return _predict_on_ray(
                RayJob.from_cli(
                    file, output, fmt, bundle=model, text_column=text_column,
                    overwrite=overwrite, address=address, num_workers=num_workers,
                    ship_bundle=ship_bundle, predictor=options,
                )
            )  # fmt: skip
        refuse_on_local_engine(address, num_workers, ship_bundle)
        request = FilePredictionRequest(file, fmt, output, text_column, overwrite)
        predict_file(request, _classifier(model, options), err)

    _run(action)


def _predict_on_ray(job: RayJob) -> None:
    """`predict --engine ray`, its options checked already: imports Ray only now."""
    try:
        from senticlf.scale import ray_files
    except ImportError as exc:
        raise SenticlfError(
            f"--engine ray needs Ray Data ({first_line(exc)}): pip install 'senticlf[ray]'"
        ) from None
    job = dataclasses.replace(job, bundle=job.bundle or _newest_bundle())
    err.print(f"model: {job.bundle}; engine: Ray Data ({job.address or 'local'})", highlight=False)
    out_fmt, files = ray_files.run(job)
    err.print(f"[bold green]predictions written to {job.output}/ ({files} {out_fmt} file(s))[/]")


def _classifier(model: Path | None, options: PredictorOptions) -> SentimentClassifier:
    """The bundle given (else the newest under export/), loaded and said out loud: which
    model file, device and call plan a file's reviews will go through."""
    from senticlf.runtime.predictor import SentimentClassifier

    classifier = SentimentClassifier(model or _newest_bundle(), options)
    err.print(
        f"model: {classifier.bundle_dir} ({classifier.model_file}, {classifier.device}; "
        f"{classifier.plan.describe()})",
        highlight=False,
        soft_wrap=True,
    )
    return classifier


def _newest_bundle() -> Path:
    """`predict` and `serve` without a bundle: the newest under export/, said out loud."""
    newest = artifacts.newest_bundle()
    err.print(f"using the newest bundle under {artifacts.EXPORT_ROOT}/: {newest}", highlight=False)
    return newest


# ---------------------------------------------------------------------------- explain


@app.command()
def explain(
    file: ReviewsFile,
    model: BundleOption = None,
    fmt: Annotated[
        str, typer.Option("--format", help="text, jsonl (offsets and values) or html (one page).")
    ] = "text",
    output: Annotated[
        Path | None, typer.Option(help="Write here (atomically) instead of stdout.")
    ] = None,
    text_column: Annotated[str | None, typer.Option(help="Text column of table input.")] = None,
    budget: Annotated[
        int | None,
        typer.Option(
            help="Most re-scored variants per review (default: by length, 25 at 250 tokens, "
            "28 from 512)."
        ),
    ] = None,
    fp32: Fp32 = None,
    device: Device = None,
    batch_size: BatchSize = None,
    threads: Threads = None,
    streams: Streams = None,
    threshold: Threshold = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing --output file.")
    ] = False,
) -> None:
    """Why each review got its label: its sentences' and decisive words' contributions."""

    def action() -> None:
        from senticlf.runtime.explain_file import FileExplanationRequest, explain_file

        request = FileExplanationRequest(file, fmt, output, text_column, overwrite, budget)
        options = PredictorOptions(
            quantized=quantized_flag(fp32), device=device, threads=threads, streams=streams,
            batch_size=batch_size, threshold=threshold,
        )  # fmt: skip
        explain_file(request, _classifier(model, options), err)

    _run(action)


# ---------------------------------------------------------------------------- evaluate


@app.command()
def evaluate(
    bundle: Annotated[Path, typer.Argument(help=f"An exported bundle folder or {HUB_ID}.")],
    data: Annotated[
        str,
        typer.Option(
            help="Labelled reviews: CSV/JSONL/Parquet (gzip too), aclImdb folder or archive."
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="Write report.json, report.md and the diagrams here (atomically)."),
    ] = None,
    compare: Annotated[
        Path | None, typer.Option(help="A second bundle, scored side by side on the same reviews.")
    ] = None,
    fp32: Annotated[
        bool,
        typer.Option(
            "--fp32",
            help="Compare the bundle's fp32 model with its INT8 model (on CUDA: fp16 model).",
        ),
    ] = False,
    text_column: Annotated[str | None, typer.Option(help="Text column of table data.")] = None,
    label_column: Annotated[str | None, typer.Option(help="Label column of table data.")] = None,
    threads: Threads = None,
    streams: Streams = None,
    batch_size: BatchSize = None,
    device: Device = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing --out folder.")
    ] = False,
    target_accuracy: Annotated[
        float | None,
        typer.Option(
            help="Report the smallest --min-confidence whose answered reviews reach this "
            "accuracy, and the share of reviews it answers."
        ),
    ] = None,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="List the most decisive sentences of every misclassified review (one model "
            "call per sentence).",
        ),
    ] = False,
) -> None:
    """Accuracy, F1, calibration (ECE), coverage curve, length buckets, error groups."""

    def action() -> None:
        from senticlf.evaluation.evaluate import EvaluationRequest
        from senticlf.evaluation.evaluate import evaluate as run_evaluation

        options = PredictorOptions(
            device=device, threads=threads, streams=streams, batch_size=batch_size
        )
        request = EvaluationRequest(
            bundle=bundle, data=data, out=out, compare=compare, fp32=fp32,
            text_column=text_column, label_column=label_column, overwrite=overwrite,
            target_accuracy=target_accuracy, predictor=options, explain=explain,
        )  # fmt: skip
        run_evaluation(request, Console(), err)

    _run(action)


# ---------------------------------------------------------------------------- info


@app.command()
def info(
    bundle: Annotated[Path, typer.Argument(help=f"An exported bundle folder or {HUB_ID}.")],
) -> None:
    """Summarise a bundle and check every file against its sha256 (no model is loaded)."""

    def action() -> None:
        from senticlf.export.card import print_info

        print_info(bundle, Console())

    _run(action)


# ---------------------------------------------------------------------------- serve


@app.command()
def serve(
    bundle: Annotated[
        Path | None,
        typer.Argument(help=f"Bundle folder or {HUB_ID} [default: newest under export/]."),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = SERVE_DEFAULTS.host,
    port: Annotated[int, typer.Option(help="Port (0: any free port).")] = SERVE_DEFAULTS.port,
    threads: Threads = None,
    streams: Streams = None,
    batch_size: BatchSize = None,
    max_wait_ms: Annotated[
        float, typer.Option(help="Longest wait to fill a batch (only under concurrency).")
    ] = SERVE_DEFAULTS.max_wait_ms,
    max_queue: Annotated[
        int, typer.Option(help="Texts allowed to wait; beyond, 503 + Retry-After.")
    ] = SERVE_DEFAULTS.max_queue,
    max_inputs: Annotated[
        int, typer.Option(help="Texts per request; beyond, 413.")
    ] = SERVE_DEFAULTS.max_inputs,
    max_body_bytes: Annotated[
        int, typer.Option(help="Request body size; beyond, 413.")
    ] = SERVE_DEFAULTS.max_body_bytes,
    fp32: Fp32 = None,
    min_confidence: Annotated[
        float | None,
        typer.Option(
            help="/classify labels a text 'uncertain' below this top probability (a request's "
            "own min_confidence wins)."
        ),
    ] = None,
    model_name: Annotated[
        str | None,
        typer.Option(
            help="Model name in the KServe v2 routes (default: the bundle folder's name)."
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="SENTICLF_API_KEY",
            show_envvar=True,
            help="Require 'Authorization: Bearer KEY' on every route but the health probes "
            "(prefer the environment variable: options show in process listings).",
        ),
    ] = None,
    device: Device = None,
) -> None:
    """Serve a bundle over HTTP with dynamic batching (needs the serve extra)."""

    def action() -> None:
        try:
            from senticlf.serve.server import serve as run_server
        except ImportError as exc:
            raise SenticlfError(
                f'serving needs the serve extra ({exc.name} is missing): pip install "senticlf[serve]"'
            ) from None
        from senticlf.serve.config import ServeConfig

        config = ServeConfig(
            host=host, port=port, max_wait_ms=max_wait_ms, max_queue=max_queue,
            max_inputs=max_inputs, max_body_bytes=max_body_bytes, model_name=model_name,
            min_confidence=min_confidence,
        )  # fmt: skip
        options = PredictorOptions(
            quantized=quantized_flag(fp32), device=device, threads=threads, streams=streams,
            batch_size=batch_size,
        )  # fmt: skip
        if api_key is not None and not api_key.strip():
            raise SenticlfError("--api-key (or SENTICLF_API_KEY) is empty")
        run_server(bundle or _newest_bundle(), config, options, err, api_key)

    _run(action, sigterm_as_interrupt=False)  # uvicorn stops gracefully on SIGTERM


if __name__ == "__main__":
    app()

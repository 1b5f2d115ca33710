"""The ``senticlf`` command line: train, export, predict.

Each command imports its own stage inside its body: ``senticlf --help`` and ``predict`` never
pay for (or need) torch and transformers. Problems a user can fix end in one line on stderr
and exit code 2; no traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from senticlf import __version__
from senticlf.errors import SenticlfError
from senticlf.runtime.predict_file import EXPORT_ROOT
from senticlf.runtime.predictor import DEFAULT_BATCH  # already loaded by `import senticlf`
from senticlf.training.config import TrainConfig

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


def _run(action: Callable[[], T]) -> T:
    """Turn a SenticlfError into one red line and exit code 2; Ctrl-C into exit code 130."""
    try:
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
            help="Hub dataset id, aclImdb folder or .tar.gz, or a CSV/JSONL/Parquet file."
        ),
    ] = DEFAULTS.data,
    eval_data: Annotated[
        str | None,
        typer.Option(help="Evaluation file for table data (else held out from --data)."),
    ] = None,
    text_column: Annotated[str | None, typer.Option(help="Text column of table data.")] = None,
    label_column: Annotated[
        str | None,
        typer.Option(help="Label column of table data (0/1, neg/pos, negative/positive)."),
    ] = None,
    base_model: Annotated[
        str, typer.Option(help="Hub id or local folder of the pretrained encoder.")
    ] = DEFAULTS.base_model,
    output: Annotated[
        Path | None, typer.Option(help="Run folder [default: runs/<timestamp>].")
    ] = None,
    train_size: Annotated[
        int, typer.Option(help="Training reviews (seeded subset of the train split).")
    ] = 1000,
    val_size: Annotated[
        int, typer.Option(help="Validation reviews (seeded subset of the test split).")
    ] = 200,
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
            )  # fmt: skip
            run_dir = output or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
        from senticlf.training.trainer import train as run_training

        run_training(config, run_dir, resume=resume is not None, overwrite=overwrite, console=err)
        err.print(
            f"[bold green]run written to {run_dir}[/]; next: senticlf export {run_dir} --quantize"
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
    ] = False,
    preset: Annotated[
        str | None,
        typer.Option(
            help="CPU family whose INT8 variants to try: avx512_vnni, avx512, avx2 or arm64; "
            "this CPU must support it [default: this CPU's]."
        ),
    ] = None,
    max_accuracy_drop: Annotated[
        float, typer.Option(help="Fail when INT8 loses more accuracy points than this.")
    ] = 1.0,
    target: Annotated[str, typer.Option(help="cpu or cuda: where the bundle will run.")] = "cpu",
    opset: Annotated[int | None, typer.Option(help="ONNX opset [default: Optimum's].")] = None,
    optimize: Annotated[
        bool,
        typer.Option(
            help="Fuse attention, LayerNorm and GELU with ONNX Runtime's optimizer first."
        ),
    ] = True,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite", help="Replace an existing bundle (only once the new one is complete)."
        ),
    ] = False,
) -> None:
    """Export a run to ONNX with Optimum, optionally INT8, and check it against PyTorch."""

    def action() -> None:
        if target not in ("cpu", "cuda"):
            raise SenticlfError(f"--target must be cpu or cuda, got {target!r}")
        if max_accuracy_drop < 0:
            raise SenticlfError(f"--max-accuracy-drop must be >= 0, got {max_accuracy_drop}")
        from senticlf.export.bundle import ExportOptions, export_run

        destination = output or EXPORT_ROOT / run_dir.resolve().name
        options = ExportOptions(
            quantize=quantize, preset=preset, max_accuracy_drop=max_accuracy_drop,
            target=target, overwrite=overwrite, opset=opset, optimize=optimize,
        )  # fmt: skip
        export_run(run_dir, destination, options, err)

    _run(action)


# ---------------------------------------------------------------------------- predict


@app.command()
def predict(
    file: Annotated[
        str,
        typer.Argument(
            help="Reviews, one per line; '-' reads stdin; .csv/.jsonl need a text column."
        ),
    ],
    model: Annotated[
        Path | None, typer.Option(help="Bundle folder [default: newest under export/].")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text, jsonl or csv.")] = "text",
    output: Annotated[
        Path | None, typer.Option(help="Write here (atomically) instead of stdout.")
    ] = None,
    text_column: Annotated[str | None, typer.Option(help="Text column of CSV/JSONL input.")] = None,
    fp32: Annotated[
        bool, typer.Option("--fp32", help="Use the fp32 model even when the bundle has INT8.")
    ] = False,
    batch_size: Annotated[int, typer.Option(help="Reviews per ONNX Runtime call.")] = DEFAULT_BATCH,
    threads: Annotated[
        int | None, typer.Option(help="ONNX Runtime threads [default: all cores].")
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(help="Binary bundles: P(positive) at which a review is positive [0.5]."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing --output file.")
    ] = False,
) -> None:
    """Classify reviews with an exported bundle (ONNX Runtime only: no torch)."""

    def action() -> None:
        from senticlf.runtime.predict_file import FileJob, newest_bundle, predict_file
        from senticlf.runtime.predictor import SentimentClassifier

        job = FileJob(file, fmt, output, text_column, overwrite)
        bundle = model or newest_bundle(console=err)
        classifier = SentimentClassifier(
            bundle, quantized=False if fp32 else None, threads=threads,
            batch_size=batch_size, threshold=threshold,
        )  # fmt: skip
        err.print(f"model: {bundle} ({classifier.model_file})", highlight=False)
        predict_file(job, classifier, err)

    _run(action)


if __name__ == "__main__":
    app()

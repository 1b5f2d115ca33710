"""``senticlf predict FILE``: a file of reviews in, one result per line out, in order.

Lives beside the predictor (not in the CLI) so that the CLI only parses options, and so that
other front ends (Ray workers, scripts) reuse the same pairing of lines with predictions.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from senticlf import atomic, tables
from senticlf.errors import SenticlfError
from senticlf.runtime import inputs, outputs
from senticlf.runtime.batching import chunks
from senticlf.runtime.inputs import InputText
from senticlf.runtime.predictor import Prediction, SentimentClassifier

# Where `predict` runs: this process (streaming, in order) or Ray Data (senticlf.scale).
ENGINES = ("local", "ray")


@dataclass(frozen=True)
class FilePredictionRequest:
    """What to read and where to write; checked before the model is loaded."""

    source: str  # a path, or "-" for stdin
    fmt: str = "text"
    output: Path | None = None
    text_column: str | None = None
    overwrite: bool = False

    def __post_init__(self) -> None:
        if self.fmt not in outputs.FORMATS:
            raise SenticlfError(
                f"--format must be one of {', '.join(outputs.FORMATS)}, got {self.fmt!r}"
            )
        if self.output is not None and self.output.exists() and not self.overwrite:
            raise SenticlfError(f"{self.output} already exists; pass --overwrite to replace it")


def predict_file(
    request: FilePredictionRequest, classifier: SentimentClassifier, console: Console
) -> None:
    """Classify every line of ``request.source``; an --output file appears only when complete."""
    total = None if request.source == "-" else tables.check(Path(request.source))
    results = classify_items(classifier, inputs.read_inputs(request.source, request.text_column))
    if request.output is None:
        writer = outputs.ResultWriter(sys.stdout, request.fmt, classifier.labels)
        _write_results(writer, results, total, console, show_progress=False)
        return
    with atomic.atomic_open(request.output) as handle:
        writer = outputs.ResultWriter(handle, request.fmt, classifier.labels)
        _write_results(writer, results, total, console, show_progress=True)
    console.print(f"[bold green]predictions written to {request.output}[/]")


def classify_items(
    classifier: SentimentClassifier, items: Iterable[InputText]
) -> Iterator[tuple[InputText, Prediction | None]]:
    """Pair every input line with its prediction (None for blank lines), in order."""
    for chunk in chunks(items):
        texts = [item.text for item in chunk if item.text is not None]
        predictions = iter(classifier.predict(texts))
        for item in chunk:
            yield item, (next(predictions) if item.text is not None else None)


def _write_results(
    writer: outputs.ResultWriter,
    results: Iterable[tuple[InputText, Prediction | None]],
    total: int | None,
    console: Console,
    show_progress: bool,
) -> None:
    blank = 0
    with Progress(console=console, transient=True, disable=not show_progress) as progress:
        task = progress.add_task("classifying", total=total)
        for item, prediction in results:
            writer.write(item, prediction)
            blank += prediction is None
            progress.advance(task)
    if blank:
        console.print(f"[yellow]{blank} blank line(s) reported without a prediction[/]")

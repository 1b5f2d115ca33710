"""``senticlf predict FILE``: a file of reviews in, one result per line out, in order.

Lives beside the predictor (not in the CLI) so that the CLI only parses options, and so that
other front ends (Ray workers, scripts) reuse the same pairing of lines with predictions.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from rich.console import Console
from rich.progress import Progress

from senticlf import atomic, tables
from senticlf.errors import SenticlfError
from senticlf.runtime import inputs, outputs
from senticlf.runtime.batching import CHUNK, chunks
from senticlf.runtime.inputs import InputText
from senticlf.runtime.predictor import Prediction, SentimentClassifier

R = TypeVar("R")
R_contra = TypeVar("R_contra", contravariant=True)

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
        write_all(writer, results, total, console, show_progress=False)
        return
    with atomic.atomic_open(request.output) as handle:
        writer = outputs.ResultWriter(handle, request.fmt, classifier.labels)
        write_all(writer, results, total, console, show_progress=True)
    console.print(f"[bold green]predictions written to {request.output}[/]")


def classify_items(
    classifier: SentimentClassifier, items: Iterable[InputText]
) -> Iterator[tuple[InputText, Prediction | None]]:
    """Pair every input line with its prediction (None for blank lines), in order."""
    return paired(items, classifier.predict)


def paired(
    items: Iterable[InputText], run: Callable[[list[str]], Iterable[R]], size: int = CHUNK
) -> Iterator[tuple[InputText, R | None]]:
    """Every input line with ``run``'s result for it (None for blank lines), in order, ``size``
    lines per ``run`` call: what `predict` and `explain` both do to a file."""
    for chunk in chunks(items, size):
        results = iter(run([item.text for item in chunk if item.text is not None]))
        for item in chunk:
            yield item, (next(results) if item.text is not None else None)


class LineWriter(Protocol[R_contra]):
    def write(self, item: InputText, result: R_contra | None) -> None: ...


def write_all(
    writer: LineWriter[R],
    results: Iterable[tuple[InputText, R | None]],
    total: int | None,
    console: Console,
    show_progress: bool,
    doing: str = "classifying",
    result_name: str = "a prediction",
) -> None:
    """Write every line's result with a progress bar; blank lines are counted and said."""
    blank = 0
    with Progress(console=console, transient=True, disable=not show_progress) as progress:
        task = progress.add_task(doing, total=total)
        for item, result in results:
            writer.write(item, result)
            blank += result is None
            progress.advance(task)
    if blank:
        console.print(f"[yellow]{blank} blank line(s) reported without {result_name}[/]")

"""``senticlf explain FILE``: a file of reviews in, one explanation per line out, in order.

Reads its input with ``predict``'s reader (lines, stdin or a table's text column), explains a
few reviews per :meth:`SentimentClassifier.explain` call (all their variants in one call of the
predictor per stage) and writes as it goes; an --output file appears only complete.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from senticlf import atomic, tables
from senticlf.errors import SenticlfError
from senticlf.runtime import inputs
from senticlf.runtime.explain import Explanation
from senticlf.runtime.explain_output import FORMATS, ExplanationWriter
from senticlf.runtime.inputs import InputText
from senticlf.runtime.predict_file import paired, write_all
from senticlf.runtime.predictor import SentimentClassifier

# Reviews per explain call: enough to batch their variants, few enough for a lively progress bar.
EXPLAIN_CHUNK = 8


@dataclass(frozen=True)
class FileExplanationRequest:
    """What to read and where to write; checked before the model is loaded."""

    source: str  # a path, or "-" for stdin
    fmt: str = "text"
    output: Path | None = None
    text_column: str | None = None
    overwrite: bool = False
    budget: int | None = None

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise SenticlfError(f"--format must be one of {', '.join(FORMATS)}, got {self.fmt!r}")
        if self.output is not None and self.output.exists() and not self.overwrite:
            raise SenticlfError(f"{self.output} already exists; pass --overwrite to replace it")
        if self.budget is not None and self.budget < 1:
            raise SenticlfError(f"--budget must be at least 1, got {self.budget}")


def explain_file(
    request: FileExplanationRequest, classifier: SentimentClassifier, console: Console
) -> None:
    """Explain every line of ``request.source``; an --output file appears only when complete."""
    total = None if request.source == "-" else tables.check(Path(request.source))
    items = inputs.read_inputs(request.source, request.text_column)
    results = explain_items(classifier, items, request.budget)
    if request.output is None:
        writer = ExplanationWriter(sys.stdout, request.fmt)
        _write(writer, results, total, console, show_progress=not sys.stdout.isatty())
        return
    with atomic.atomic_open(request.output) as handle:
        _write(ExplanationWriter(handle, request.fmt), results, total, console, show_progress=True)
    console.print(f"[bold green]explanations written to {request.output}[/]")


def explain_items(
    classifier: SentimentClassifier, items: Iterable[InputText], budget: int | None = None
) -> Iterator[tuple[InputText, Explanation | None]]:
    """Pair every input line with its explanation (None for blank lines), in order."""
    return paired(items, lambda texts: classifier.explain(texts, budget=budget), EXPLAIN_CHUNK)


def _write(
    writer: ExplanationWriter,
    results: Iterable[tuple[InputText, Explanation | None]],
    total: int | None,
    console: Console,
    show_progress: bool,
) -> None:
    write_all(writer, results, total, console, show_progress, "explaining", "an explanation")
    writer.close()

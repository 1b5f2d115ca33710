"""Typed rows a benchmark reports, and the one renderer of Markdown tables.

A command turns what it measured into frozen records (a timing row, an accuracy row, or a row
of its own made of them), picks the columns its table shows, and hands ``Table(rows,
columns)`` to ``benchmarks.common.results.write``: every results table is drawn by
:meth:`Table.markdown`, the same way.

The shared records keep their JSON shape in ``to_dict`` (the keys the results files have
always had), so a command can put them in its JSON as they are.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, Generic, TypeVar

import numpy as np

Row = TypeVar("Row")


@dataclass(frozen=True)
class Runs:
    """One figure measured in several runs (reviews/s of each round): its median and range.

    The median is what a table shows; the range says how much the runs disagreed, which on
    a shared machine is the first thing to check before comparing two medians.
    """

    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError("a measurement needs at least one run")

    @classmethod
    def of(cls, values: Iterable[float]) -> Runs:
        return cls(tuple(float(v) for v in values))

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def cell(self, digits: int = 1) -> str:
        """``median (min-max)``, or the one value when there was one run."""
        if len(self.values) == 1:
            return f"{self.median:.{digits}f}"
        return f"{self.median:.{digits}f} ({self.low:.{digits}f}-{self.high:.{digits}f})"

    def to_dict(self) -> dict[str, Any]:
        return {"median": self.median, "min": self.low, "max": self.high, "runs": list(self.values)}


class _Stored:
    """A record stored in results files under its own field names."""

    @classmethod
    def from_dict(cls: type[Stored], stored: dict[str, Any]) -> Stored:
        return cls(**{f.name: stored[f.name] for f in fields(cls)})  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


Stored = TypeVar("Stored", bound=_Stored)


@dataclass(frozen=True)
class Percentiles(_Stored):
    """Batch-1 latency of one model: median, p90 and p99 in milliseconds."""

    median_ms: float
    p90_ms: float
    p99_ms: float

    @classmethod
    def of_seconds(cls, seconds: Sequence[float]) -> Percentiles:
        return cls(
            median_ms=1000 * statistics.median(seconds),
            p90_ms=1000 * float(np.percentile(seconds, 90)),
            p99_ms=1000 * float(np.percentile(seconds, 99)),
        )


@dataclass(frozen=True)
class Spread(_Stored):
    """One figure over seeds or splits: mean, sample standard deviation, min and max."""

    mean: float
    sd: float
    min: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(
            mean=float(np.mean(values)),
            sd=float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
            min=float(np.min(values)),
            max=float(np.max(values)),
        )

    def cell(self, digits: int = 4) -> str:
        return f"{self.mean:.{digits}f} ± {self.sd:.{digits}f}"

    def percent_cell(self, digits: int = 2) -> str:
        """A share as percent: ``88.92% ± 0.61`` (the sd in points)."""
        return f"{self.mean:.{digits}%} ± {self.sd * 100:.{digits}f}"


@dataclass(frozen=True)
class Timing:
    """A timing row: one model's reviews/s over runs, at a batch size, maybe its latency."""

    name: str
    reviews_per_s: Runs
    batch: int | str | None = None
    latency: Percentiles | None = None


@dataclass(frozen=True)
class Accuracy:
    """An accuracy row: one model scored on ``reviews`` labelled reviews.

    ``agreement`` is the share of labels equal to the reference model's (fp32, usually).
    """

    name: str
    reviews: int
    accuracy: float
    agreement: float | None = None
    macro_f1: float | None = None
    ece: float | None = None

    def cell(self) -> str:
        """``accuracy (agreement)``, as the INT8 tables show it."""
        return f"{self.accuracy:.1%} ({self.agreement:.1%})"


@dataclass(frozen=True)
class Column(Generic[Row]):
    """One column of a table: its header and how a row fills its cell."""

    header: str
    cell: Callable[[Row], str]
    right: bool = False  # numbers in some tables are right-aligned


@dataclass(frozen=True)
class Table(Generic[Row]):
    rows: Sequence[Row]
    columns: Sequence[Column[Row]]

    def markdown(self) -> str:
        rule = "|" + "".join("---:|" if c.right else "---|" for c in self.columns)
        lines = [_line(c.header for c in self.columns), rule]
        lines += [_line(c.cell(row) for c in self.columns) for row in self.rows]
        return "\n".join(lines)


def _line(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"


TIMING_COLUMNS: tuple[Column[Timing], ...] = (
    Column("name", lambda t: t.name),
    Column("batch", lambda t: "-" if t.batch is None else str(t.batch)),
    Column("reviews/s, median (min-max)", lambda t: t.reviews_per_s.cell(), right=True),
    Column("runs", lambda t: str(len(t.reviews_per_s.values)), right=True),
    Column("batch 1 median ms", lambda t: f"{t.latency.median_ms:.1f}" if t.latency else "-"),
)


def keyed(rows: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """``{row.name: the row's other fields}``: how results files key their rows by model."""
    found = {}
    for row in rows:
        values = {f.name: getattr(row, f.name) for f in fields(row)}
        found[values.pop("name")] = values
    return found

"""What benchmarks.engines measured, as records, the decision it prints, and its Markdown.

A *configuration* is one engine run one way (calls in flight, threads each, batch); its
alternating fresh-process runs give a :class:`~benchmarks.common.records.Timing` whose
:class:`~benchmarks.common.records.Runs` hold every run. The decision compares the peers
(OpenVINO, CTranslate2, PyTorch) with the best ONNX Runtime configuration (senticlf's default
included) and says whether one should ship as an optional backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.common import engines_build, roofline
from benchmarks.common.records import TIMING_COLUMNS, Column, Runs, Table, Timing
from benchmarks.common.results import Block
from senticlf import artifacts

DEFAULT = "senticlf default"
ORT_KINDS = ("ort", "senticlf")
# A peer must be this much ahead of the best ONNX Runtime configuration, by median, with its
# slowest run still ahead of that median, to be worth shipping as an optional backend.
AHEAD = 0.10
MIN_REPORTED_RUNS = 4


@dataclass(frozen=True)
class Configuration:
    """One engine run one way: ``streams`` calls in flight of ``threads`` threads each, every
    call holding at most ``batch`` texts (the default's own plan decides all three)."""

    engine: str
    kind: str
    batch: int
    streams: int
    threads: int
    spinning: bool

    @property
    def label(self) -> str:
        s, t = self.streams, self.threads
        if self.kind == "senticlf":
            return "senticlf.load(bundle): its plan"
        if self.kind == "ort":
            spin = "spinning" if self.spinning else "no spinning"
            return (
                f"1 stream x {t} threads, {spin}" if s == 1 else f"{s} streams x {t} thread, {spin}"
            )
        if self.kind == "openvino":
            if s == 1:
                return f"LATENCY, {t} threads"
            return f"THROUGHPUT, {s} streams x {t} thread, a request per stream"
        if self.kind == "ct2":
            return f"intra_threads {t}" if s == 1 else f"inter_threads {s} x intra_threads {t}"
        return f"{t} threads"

    @property
    def name(self) -> str:
        return self.engine if self.kind == "senticlf" else f"{self.engine} [{self.label}]"


def arithmetic(spec: dict[str, Any], described: dict[str, Any]) -> tuple[str, bool]:
    """The precision an engine's linear layers run at (for the roofline), and whether it may
    use AMX tiles (OpenVINO's oneDNN does; ONNX Runtime's dynamic INT8 and CTranslate2 do not)."""
    kind, name = spec["kind"], spec.get("name", "")
    if kind == "senticlf":
        return artifacts.MODEL_PRECISION.get(described.get("model_file", ""), "fp32"), False
    if kind == "ort":
        return ("int8" if "int8" in name else "fp32"), False
    if kind == "openvino":
        if "nncf" in name:
            return "int8", True
        return ("bf16" if spec.get("precision") == "bf16" else "fp32"), True
    if kind == "ct2":
        compute = spec.get("compute_type", "float32")
        if compute.startswith("int8"):
            return "int8", False
        return {"int16": "int16", "bfloat16": "bf16"}.get(compute, "fp32"), False
    return "fp32", False


@dataclass(frozen=True)
class Configured:
    """A configuration's alternating runs: its timing (None when it failed), what the engine
    said it ran with, and its answers against the engine alone at batch 1."""

    configuration: Configuration
    timing: Timing | None
    error: str | None
    described: dict[str, Any]
    against: str | None  # the alone engine its answers were checked against
    max_change: float | None  # largest probability change over every run
    flips: int | None
    same_answers: bool
    precision: str
    amx: bool

    @classmethod
    def of(
        cls, config: Configuration, entry: dict[str, Any], spec: dict[str, Any], tolerance: float
    ) -> Configured:
        runs = entry.get("runs", [])
        described = entry.get("described", {})
        batch = described.get("batch_size", config.batch)
        timing = Timing(config.name, Runs.of(runs), batch=batch) if runs else None
        checks = [c for c in entry.get("checks", []) if c.get("against")]
        change = max((c["max_change"] for c in checks), default=None)
        flips = max((c["flips"] for c in checks), default=None)
        same = change is not None and change <= tolerance and flips == 0
        precision, amx = arithmetic(spec, described)
        against = checks[0]["against"] if checks else None
        error = entry.get("error")
        return cls(config, timing, error, described, against, change, flips, same, precision, amx)  # fmt: skip

    @property
    def runs(self) -> Runs | None:
        return self.timing.reviews_per_s if self.timing else None

    @property
    def eligible(self) -> bool:
        """Timed, and its answers were those of the engine alone at batch 1."""
        return self.timing is not None and self.same_answers

    @property
    def streams(self) -> int:
        return int(self.described.get("streams", self.configuration.streams))

    def to_dict(self) -> dict[str, Any]:
        c = self.configuration
        found: dict[str, Any] = {
            "name": c.name,
            "engine": c.engine,
            "kind": c.kind,
            "execution": c.label,
            "batch": self.timing.batch if self.timing else c.batch,
            "streams": self.streams,
            "threads": int(self.described.get("threads", c.threads)),
            "spinning": bool(self.described.get("spinning", c.spinning)),
            "described": self.described,
            "answers": {
                "against": self.against,
                "max_change": self.max_change,
                "flips": self.flips,
                "same": self.same_answers,
            },  # fmt: skip
            "precision": self.precision,
        }
        if self.runs is not None:
            found["reviews_per_s"] = self.runs.to_dict()
        if self.error:
            found["error"] = self.error
        return found


@dataclass(frozen=True)
class Verdict:
    """The best ONNX Runtime configuration, senticlf's default, the best peer, and the peers
    far enough ahead to ship (best first)."""

    best_ort: Configured | None
    default: Configured | None
    best_peer: Configured | None
    ahead: tuple[Configured, ...]
    margin: float = AHEAD

    def to_dict(self) -> dict[str, Any]:
        def named(c: Configured | None) -> str | None:
            return c.configuration.name if c else None

        return {
            "rule": f"a peer ships as an optional backend when its median is >= {1 + self.margin:g}x "
            "the best ONNX Runtime configuration's median and its slowest run is above that median",
            "best_ort": named(self.best_ort),
            "default": named(self.default),
            "best_peer": named(self.best_peer),
            "ship": [named(c) for c in self.ahead],
        }


def _median(c: Configured) -> float:
    assert c.runs is not None
    return c.runs.median


def decide(configured: Sequence[Configured], margin: float = AHEAD) -> Verdict:
    """Only configurations that were timed and gave the engine's batch-1 answers count."""
    eligible = [c for c in configured if c.eligible]
    ort = [c for c in eligible if c.configuration.kind in ORT_KINDS]
    peers = sorted(
        (c for c in eligible if c.configuration.kind not in ORT_KINDS), key=_median, reverse=True
    )
    best_ort = max(ort, key=_median, default=None)
    default = next((c for c in eligible if c.configuration.kind == "senticlf"), None)
    ahead: tuple[Configured, ...] = ()
    if best_ort is not None:
        bar = _median(best_ort)
        ahead = tuple(
            c for c in peers if _median(c) >= (1 + margin) * bar and c.runs and c.runs.low > bar
        )
    return Verdict(best_ort, default, peers[0] if peers else None, ahead, margin)


def _figure(c: Configured) -> str:
    assert c.runs is not None
    return f"{c.configuration.name} at {c.runs.cell()} reviews/s"


def _against(a: Configured, b: Configured) -> str:
    return f"{_median(a) / _median(b) - 1:+.0%}"


def _place(default: Configured, peer: Configured, margin: float) -> str:
    """Where the default stands against a peer: ahead, within the margin, or behind."""
    ratio = _median(default) / _median(peer)
    if ratio >= 1:
        return "ahead of"
    return f"within {margin:.0%} of" if ratio * (1 + margin) >= 1 else "behind"


def verdict_markdown(v: Verdict) -> str:
    if v.best_ort is None:
        return "**Decision:** no ONNX Runtime configuration finished with its batch-1 answers: no decision."  # fmt: skip
    bar = _median(v.best_ort)
    rule = (
        f"(rule: a peer's median at least {v.margin:.0%} above the best ONNX Runtime "
        "configuration's median, and its slowest run above that median too)"
    )
    if v.ahead:
        lead = v.ahead[0]
        assert lead.runs is not None
        text = (
            f"**Decision: ship {lead.configuration.engine} as an optional backend.** "
            f"{_figure(lead)} is {_median(lead) / bar - 1:.0%} ahead of the best ONNX Runtime "
            f"configuration, {_figure(v.best_ort)}, and its slowest run ({lead.runs.low:.1f}) is "
            f"ahead of that median too {rule}."
        )
        others = [f"{_figure(c)} ({_against(c, v.best_ort)})" for c in v.ahead[1:]]
        if others:
            text += " Also ahead by the same rule: " + "; ".join(others) + "."
    else:
        text = (
            "**Decision: no peer to ship.** No peer is far enough ahead of the best ONNX Runtime "
            f"configuration, {_figure(v.best_ort)} {rule}"
        )
        if v.best_peer is None:
            text += "; no peer finished."
        else:
            text += f"; the best peer is {_figure(v.best_peer)} ({_against(v.best_peer, v.best_ort)})."  # fmt: skip
    default = v.default
    if default is None:
        return text + " senticlf's default has no ranked figure (see below)."
    assert default.runs is not None
    plan = default.described.get("plan", "its plan")
    if default is v.best_ort:
        text += f" That configuration is senticlf's default (its plan: {plan})."
    else:
        text += (
            f" senticlf's default runs at {default.runs.cell()} reviews/s, "
            f"{_against(default, v.best_ort)} against the best ONNX Runtime configuration "
            f"(its plan: {plan})."
        )
    if v.best_peer is not None:
        text += (
            f" The default is {_place(default, v.best_peer, v.margin)} the best peer "
            f"({_against(default, v.best_peer)})."
        )
    return text


# ---------------------------------------------------------------------------- the report


@dataclass
class Report:
    """Everything one run of benchmarks.engines measured, filled in as it goes."""

    shape: str
    smoke: bool
    reviews: int
    mean_tokens: float
    max_length: int
    truncation: str
    extra_reviews: int
    cores: int
    runs: int
    rounds: int
    calibration_reviews: int
    invariance_bound: float
    bf16_instructions: bool
    not_built: dict[str, str]
    shape_of_model: roofline.Shape
    lengths: list[int]
    ghz: float
    instruction_sets: list[str] = field(default_factory=list)
    cpu_name: str = ""
    alone: dict[str, dict[str, Any]] = field(default_factory=dict)
    configured: list[Configured] = field(default_factory=list)

    @property
    def macs(self) -> roofline.Macs:
        """Per review, averaged over the timed reviews."""
        workload = roofline.total_macs(self.shape_of_model, self.lengths)
        return roofline.per_review(workload, len(self.lengths))

    def limit(self, c: Configured) -> roofline.Limit:
        return roofline.limit_for(
            self.macs, c.precision, self.instruction_sets, self.cpu_name, self.cores, self.ghz, c.amx
        )  # fmt: skip

    def title(self) -> str:
        smoke = " (smoke: tiny model, numbers mean nothing)" if self.smoke else ""
        return (
            f"Engines, {self.shape} model{smoke}: {self.reviews} reviews, mean "
            f"{self.mean_tokens:.0f} tokens (max length {self.max_length}, {self.truncation}), "
            f"{self.cores} cores"
        )

    def to_dict(self) -> dict[str, Any]:
        verdict = decide(self.configured)
        macs = self.macs
        return {
            "shape": self.shape,
            "smoke": self.smoke,
            "reviews": self.reviews,
            "mean_tokens": self.mean_tokens,
            "max_length": self.max_length,
            "truncation": self.truncation,
            "extra_reviews": self.extra_reviews,
            "cores": self.cores,
            "runs": self.runs,
            "rounds": self.rounds,
            "calibration_reviews": self.calibration_reviews,
            "invariance_bound": self.invariance_bound,
            "bf16_instructions": self.bf16_instructions,
            "not_built": self.not_built,
            "alone": self.alone,
            "configurations": [c.to_dict() for c in self.configured],
            "decision": verdict.to_dict(),
            "roofline": {
                "ghz": self.ghz,
                "model": self.shape_of_model,
                "macs_per_review": {"linear": macs.linear, "attention": macs.attention},
                "achieved_macs_per_s": {
                    c.configuration.name: self.limit(c).achieved(_median(c))
                    for c in self.configured
                    if c.runs is not None
                },
            },
        }

    def body(self) -> list[Block]:
        blocks: list[Block] = []
        if self.runs < MIN_REPORTED_RUNS:
            blocks.append(
                f"**{self.runs} run(s) per configuration: a check of the pipeline, not a figure "
                f"to report** (use `--runs {MIN_REPORTED_RUNS}` or more on an idle machine)."
            )
        if self.configured:
            blocks.append(verdict_markdown(decide(self.configured)))
            blocks.append(Table(self._engines(), self._engine_columns()))
            blocks.append(
                f"Each configuration ran {self.runs} time(s), every run a fresh process, the "
                "configurations taking turns round after round; a run warms each stream with one "
                "call, then classifies every review once (length-sorted calls of the engine's "
                "batch) from the bundle's token ids to logits. senticlf's default is "
                "`senticlf.load(bundle)` timed on `clf.logits_of_ids(ids)`: its own plan (model, "
                "texts per call, streams, threads) on the same token ids, without tokenizing or "
                "softmax, as the other engines are timed. Only configurations whose answers equal "
                "the engine's alone at batch 1 (within "
                f"{self.invariance_bound:g}, no label flipped) are ranked."
            )
            blocks.append(Table(self.configured, self._configuration_columns()))
        if self.alone:
            blocks.append(
                "**Each engine alone** (one fresh process, one call at a time on every core): "
                "batch invariance (each review alone against the same review in batches of 8 "
                "and 32, length-sorted and shuffled), agreement with ONNX Runtime fp32, "
                "accuracy, cold start up to the first answer, peak RSS. One pass per batch "
                "size picks the batch of the timed runs: the fastest invariant one. Static INT8 "
                f"and NNCF calibrated on {self.calibration_reviews} training reviews, one at a time."
            )
            blocks.append(Table(list(self.alone.items()), self._alone_columns()))
        blocks.append(
            roofline.assumptions(
                self.shape_of_model, self.macs, self.instruction_sets, self.cpu_name, self.cores, self.ghz
            )
        )  # fmt: skip
        blocks.append("\n".join(self._notes()))
        return blocks

    # ------------------------------------------------------------------ tables

    def _engines(self) -> list[tuple[str, Configured | None, Configured | None]]:
        """Per engine: its one-call-at-a-time configuration and its best, best engines first."""
        engines: dict[str, list[Configured]] = {}
        for c in self.configured:
            engines.setdefault(c.configuration.engine, []).append(c)
        rows = []
        for engine, found in engines.items():
            timed = [c for c in found if c.eligible]
            single = next((c for c in found if c.configuration.streams == 1 and c.runs), None)
            rows.append((engine, single, max(timed, key=_median, default=None)))
        return sorted(rows, key=lambda row: -_median(row[2]) if row[2] else 0.0)

    def _engine_columns(self) -> list[Column[tuple[str, Configured | None, Configured | None]]]:
        verdict = decide(self.configured)
        bar = _median(verdict.best_ort) if verdict.best_ort else None
        Row = tuple[str, Configured | None, Configured | None]

        def runs(c: Configured | None) -> str:
            return c.runs.cell() if c and c.runs else "-"

        def single(row: Row) -> str:
            return "its plan" if row[0] == DEFAULT else runs(row[1])

        def versus(row: Row) -> str:
            return f"{_median(row[2]) / bar - 1:+.0%}" if row[2] and bar else "-"

        def limit(row: Row) -> str:
            return roofline.cell(self.limit(row[2]), _median(row[2])) if row[2] else "-"

        def alone(row: Row, key: str, digits: int) -> str:
            value = self.alone.get(row[0], {}).get(key)
            return f"{value:.{digits}f}" if value is not None else "-"

        return [
            Column("engine", lambda row: f"**{row[0]}**" if row[0] == DEFAULT else row[0]),
            Column(
                "batch", lambda row: str(row[2].timing.batch) if row[2] and row[2].timing else "-"
            ),  # fmt: skip
            Column("one call at a time: reviews/s", single, right=True),
            Column("best configuration", lambda row: row[2].configuration.label if row[2] else "-"),
            Column(
                "best: reviews/s, median (min-max)", lambda row: f"**{runs(row[2])}**", right=True
            ),  # fmt: skip
            Column("vs best ONNX Runtime", versus, right=True),
            Column("GMAC/s at best (share of limit)", limit, right=True),
            Column("cold start s", lambda row: alone(row, "cold_start_s", 1), right=True),
            Column("peak RSS MB", lambda row: alone(row, "peak_rss_mb", 0), right=True),
        ]

    def _configuration_columns(self) -> list[Column[Configured]]:
        def on_timing(column: Column[Timing]) -> Column[Configured]:
            return Column(
                column.header,
                lambda c: column.cell(c.timing) if c.timing else f"failed: {c.error}",
                column.right,
            )

        def steady(c: Configured) -> str:
            return f"{c.runs.low / c.runs.median:.2f}" if c.runs else "-"

        def answers(c: Configured) -> str:
            if c.max_change is None:
                return "-"
            mark = "same" if c.same_answers else "**differ**"
            return f"{mark}: {c.max_change:.1e}, {c.flips} flips"

        def limit(c: Configured) -> str:
            return roofline.cell(self.limit(c), c.runs.median) if c.runs else "-"

        def ran_with(c: Configured) -> str:
            d = c.described
            if "plan" in d:
                return f"{d['model_file']}: {d['plan']}"
            parts = [f"{k} {v}" for k, v in d.items() if k not in ("streams", "threads")]
            return ", ".join([f"{d.get('streams', '?')} x {d.get('threads', '?')}", *parts])

        return [
            *(on_timing(column) for column in TIMING_COLUMNS[:4]),
            Column("slowest / median", steady, right=True),
            Column(f"answers vs alone at batch 1 (tolerance {self.invariance_bound:g})", answers),
            Column("precision", lambda c: c.precision + (" (AMX possible)" if c.amx else "")),
            Column("GMAC/s (share of limit)", limit, right=True),
            Column("ran with", ran_with),
        ]

    def _alone_columns(self) -> list[Column[tuple[str, dict[str, Any]]]]:
        Row = tuple[str, dict[str, Any]]

        def ok(row: Row) -> bool:
            return "error" not in row[1]

        def picked(row: Row) -> str:
            if not ok(row):
                return f"failed: {row[1]['error']}"
            b = row[1]["batch"]
            fastest = b.get("fastest_non_invariant")
            extra = f"; {fastest['reviews_per_s']:.1f} at b{fastest['batch']}, not invariant" if fastest else ""  # fmt: skip
            return f"b{b['batch']}{extra}"

        def speeds(row: Row) -> str:
            found = row[1].get("reviews_per_s") or {}
            return " / ".join(f"{found[str(b)]:.1f}" for b in (1, 8, 32) if str(b) in found) or "-"

        def invariant(size: str) -> Column[Row]:
            def cell(row: Row) -> str:
                check = row[1].get("invariance", {}).get(size)
                if not check:
                    return "-"
                change = max(check["sorted_max_change"], check["shuffled_max_change"])
                flips = check["sorted_flips"] + check["shuffled_flips"]
                return f"{'yes' if check['invariant'] else '**no**'}: {change:.1e}, {flips} flips"

            return Column(f"invariant at b{size} (max change, flips)", cell)

        def agreement(row: Row) -> str:
            e = row[1]
            if "agreement" not in e:
                return "-"
            return f"{e['agreement']:.1%} ({e['max_probability_change_vs_reference']:.1e})"

        def extra(row: Row) -> str:
            e = row[1]
            if "extra_accuracy" not in e:
                return "-"
            return f"{e['extra_accuracy']:.2%} ({e['extra_agreement']:.1%})"

        return [
            Column("engine", lambda row: row[0]),
            Column("batch of the timed runs", picked),
            Column("reviews/s b1 / b8 / b32, one pass alone", speeds),
            invariant("8"),
            invariant("32"),
            Column("agreement with ort fp32 (max prob change)", agreement),
            Column(
                "val accuracy",
                lambda row: f"{row[1]['accuracy']:.1%}" if "accuracy" in row[1] else "-",
            ),  # fmt: skip
            Column(f"{self.extra_reviews} more: accuracy (agreement)", extra),
            Column(
                "cold start s", lambda row: f"{row[1]['cold_start_s']:.1f}" if ok(row) else "-"
            ),  # fmt: skip
            Column("peak RSS MB", lambda row: f"{row[1]['peak_rss_mb']:.0f}" if ok(row) else "-"),
            Column(
                "max logit diff vs PyTorch",
                lambda row: (
                    f"{row[1]['max_logit_difference_vs_pytorch']:.1e}"
                    if "max_logit_difference_vs_pytorch" in row[1]
                    else "-"
                ),
            ),  # fmt: skip
        ]

    def _notes(self) -> list[str]:
        flags = ", ".join(engines_build.BF16_FLAGS)
        bf16 = "yes" if self.bf16_instructions else "no (bf16 not measured)"
        notes = [f"bf16 instructions ({flags}): {bf16}."]
        for name, entry in self.alone.items():
            graph = entry.get("spec", {}).get("graph")
            if graph:
                counts = ", ".join(f"{op} {n}" for op, n in graph.items() if n)
                notes.append(f"Graph of {name}: {counts}.")
        for c in self.configured:
            if c.timing is not None and not c.same_answers and c.max_change is not None:
                notes.append(
                    f"Not ranked: {c.configuration.name} (answers moved by up to "
                    f"{c.max_change:.1e}, {c.flips} flips, against {c.against} alone)."
                )
        notes += [f"Not built: {name}: {why}" for name, why in self.not_built.items()]
        return notes

"""How close a model runs to the CPU's limit: multiply-adds done per second against a peak.

A speed alone does not say whether there is more to win. Counting the encoder's multiply-adds
(MACs) per review and dividing by the CPU's estimated peak gives the share of the limit an
engine reaches; the assumptions are written here, once, and printed with every figure.

Counted, per encoder layer, for a review of L tokens (hidden size h, intermediate size i):

- the Q, K, V and output projections: 4 * L * h * h
- the feed-forward network: 2 * L * h * i
- the attention scores (Q K^T) and the weighted values (A V): 2 * L * L * h (the heads split
  h between them, so their number does not change the count)

and once per review the classification head on the first token: h * h (BERT's pooler,
DistilBERT's pre-classifier) plus h * labels. Embedding lookups, layer norms, softmax and GELU
are not matrix products and are left out. Only a review's own tokens count: padding is work an
engine chose to do, not work the review needs.

The *linear* share (projections, feed-forward, head) is what dynamic INT8 quantizes; the
*attention* share (score and value products) stays fp32 there. The limit of a model is the
time its linear share takes at its precision's peak plus its attention share at the fp32 peak
(all of it at the one peak for fp32 and bf16 models).

Peaks are per core and cycle, from the instruction sets the CPU reports and an assumed clock
(all-core turbo is not known from /proc/cpuinfo; pass the clock you believe). They are upper
bounds no real kernel reaches: loads, shuffles and the reduction of int32 sums also need
ports. See :data:`RULES` for the table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_GHZ = 2.6  # a server core's all-core clock; the flag --ghz says what the CPU runs at
PRECISIONS = ("int8", "int16", "bf16", "fp32")


@dataclass(frozen=True)
class Shape:
    """What the MAC count needs from a model's config.json."""

    layers: int
    hidden: int
    intermediate: int
    heads: int
    labels: int = 2

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Shape:
        """BERT-style keys (hidden_size, ...) or DistilBERT's (dim, hidden_dim, ...)."""
        labels = len(config.get("id2label") or {}) or 2
        if "dim" in config:  # DistilBERT
            return cls(config["n_layers"], config["dim"], config["hidden_dim"], config["n_heads"], labels)  # fmt: skip
        return cls(
            config["num_hidden_layers"],
            config["hidden_size"],
            config["intermediate_size"],
            config["num_attention_heads"],
            labels,
        )

    @classmethod
    def of_model(cls, model_dir: Path) -> Shape:
        return cls.from_config(json.loads((model_dir / "config.json").read_text()))


@dataclass(frozen=True)
class Macs:
    """Multiply-adds, split by the precision they run at in a dynamic INT8 model."""

    linear: int  # projections, feed-forward, head: INT8 in an INT8 model
    attention: int  # score and value products: fp32 in ONNX Runtime's dynamic INT8

    @property
    def total(self) -> int:
        return self.linear + self.attention

    def __add__(self, other: Macs) -> Macs:
        return Macs(self.linear + other.linear, self.attention + other.attention)


def review_macs(shape: Shape, tokens: int) -> Macs:
    """One review of ``tokens`` tokens through the encoder and the head."""
    h, i, n = shape.hidden, shape.intermediate, tokens
    per_layer_linear = 4 * n * h * h + 2 * n * h * i
    head = h * h + h * shape.labels
    return Macs(shape.layers * per_layer_linear + head, shape.layers * 2 * n * n * h)


def total_macs(shape: Shape, lengths: Iterable[int]) -> Macs:
    """Every review of a workload, by its own length."""
    found = Macs(0, 0)
    for tokens in lengths:
        found = found + review_macs(shape, tokens)
    return found


# ---------------------------------------------------------------------------- peaks


@dataclass(frozen=True)
class Rule:
    """One line of the assumption table: a precision's MACs per cycle and core where the CPU
    has ``needs`` (every flag), for ``vendor`` ("" for any)."""

    precision: str
    needs: tuple[str, ...]
    macs_per_cycle: int
    why: str
    vendor: str = ""
    amx: bool = False  # only engines that use AMX tiles get this rule


# First match wins, per precision: the widest unit first.
RULES: tuple[Rule, ...] = (
    Rule(
        "int8",
        ("amx_int8",),
        1024,
        "AMX-INT8 (TDPBUSD on tiles): 1024 per cycle; ONNX Runtime's dynamic INT8 (MatMulInteger, QAttention) and CTranslate2 do not use AMX, OpenVINO (oneDNN) does",
        amx=True,
    ),  # fmt: skip
    Rule(
        "int8",
        ("avx512_vnni",),
        64,
        "one 512-bit VPDPBUSD per cycle: 16 int32 lanes x 4 byte products (Intel parts with two 512-bit ports can issue two: 128)",
    ),  # fmt: skip
    Rule("int8", ("avx_vnni",), 32, "one 256-bit VPDPBUSD per cycle: 8 lanes x 4"),
    Rule(
        "int8",
        ("avx2",),
        32,
        "256-bit without VNNI: VPMADDUBSW + VPMADDWD + VPADDD stand for one VNNI instruction, so 32 is generous",
    ),  # fmt: skip
    Rule("int16", ("avx512_vnni",), 32, "one 512-bit VPDPWSSD per cycle: 16 lanes x 2"),
    Rule("int16", ("avx2",), 16, "256-bit VPMADDWD: 8 lanes x 2"),
    Rule(
        "bf16",
        ("amx_bf16",),
        512,
        "AMX-BF16 (TDPBF16PS on tiles): 512 per cycle, OpenVINO only",
        amx=True,
    ),  # fmt: skip
    Rule("bf16", ("avx512_bf16",), 32, "one 512-bit VDPBF16PS per cycle: 16 lanes x 2"),
    Rule(
        "fp32",
        ("avx512f",),
        16,
        "AMD (Zen 4): two 256-bit FMA pipes, a 512-bit FMA takes both: 2 x 8",
        vendor="AMD",
    ),  # fmt: skip
    Rule("fp32", ("avx512f",), 32, "two 512-bit FMA units x 16 lanes (AVX-512 server cores)"),
    Rule("fp32", ("avx2",), 16, "two 256-bit FMA units x 8 lanes"),
)
_NO_FLAGS_FP32 = 8  # one 256-bit FMA: a CPU that reports none of the flags above


@dataclass(frozen=True)
class Peak:
    precision: str
    macs_per_cycle: int
    cores: int
    ghz: float
    why: str

    @property
    def macs_per_s(self) -> float:
        return self.macs_per_cycle * self.cores * self.ghz * 1e9


def peak(
    precision: str, flags: Iterable[str], cpu_name: str, cores: int, ghz: float, amx: bool
) -> Peak:
    """The first rule of :data:`RULES` this CPU (and engine: ``amx``) meets for ``precision``;
    a precision with none (bf16 on a CPU without it) runs at the fp32 peak, as it is emulated."""
    have = set(flags)
    for rule in RULES:
        if rule.precision != precision or (rule.amx and not amx):
            continue
        if rule.vendor and rule.vendor.lower() not in cpu_name.lower():
            continue
        if all(flag in have for flag in rule.needs):
            return Peak(precision, rule.macs_per_cycle, cores, ghz, rule.why)
    if precision != "fp32":
        found = peak("fp32", have, cpu_name, cores, ghz, amx)
        return Peak(precision, found.macs_per_cycle, cores, ghz, f"no {precision} unit: {found.why}")  # fmt: skip
    return Peak("fp32", _NO_FLAGS_FP32, cores, ghz, "no FMA flags reported: one 256-bit FMA")


@dataclass(frozen=True)
class Limit:
    """How fast ``macs`` could run at best on this CPU, at ``precision`` for the linear share."""

    macs: Macs  # per review, averaged over the workload
    linear: Peak
    attention: Peak

    def seconds_per_review(self) -> float:
        return self.macs.linear / self.linear.macs_per_s + self.macs.attention / self.attention.macs_per_s  # fmt: skip

    def achieved(self, reviews_per_s: float) -> float:
        """Multiply-adds per second at this speed."""
        return self.macs.total * reviews_per_s

    def share(self, reviews_per_s: float) -> float:
        """The share of the limit reached: best possible time over the time taken."""
        return self.seconds_per_review() * reviews_per_s


def limit_for(
    macs: Macs,
    precision: str,
    flags: Iterable[str],
    cpu_name: str,
    cores: int,
    ghz: float = DEFAULT_GHZ,
    amx: bool = False,
) -> Limit:
    """INT8 and int16 models: linear share at that precision, attention at fp32; bf16 and fp32
    models: everything at their own peak."""
    flags = list(flags)
    linear = peak(precision, flags, cpu_name, cores, ghz, amx)
    attention = linear if precision in ("bf16", "fp32") else peak("fp32", flags, cpu_name, cores, ghz, amx)  # fmt: skip
    return Limit(macs, linear, attention)


def per_review(macs: Macs, reviews: int) -> Macs:
    return Macs(macs.linear // max(reviews, 1), macs.attention // max(reviews, 1))


def cell(limit: Limit, reviews_per_s: float) -> str:
    """``achieved GMAC/s (share of the limit)``."""
    return f"{limit.achieved(reviews_per_s) / 1e9:.0f} ({limit.share(reviews_per_s):.0%})"


def assumptions(
    shape: Shape,
    macs: Macs,
    flags: Sequence[str],
    cpu_name: str,
    cores: int,
    ghz: float,
) -> str:
    """The Markdown the numbers depend on: the count per review and the peaks used here."""
    share = macs.linear / max(macs.total, 1)
    lines = [
        f"**How close to the limit.** Multiply-adds per review (mean over the timed reviews, "
        f"their own tokens only): {macs.total / 1e6:,.1f} million, of which {share:.0%} in linear layers "
        f"(Q/K/V/output projections 4·L·h², feed-forward 2·L·h·i, head) and the rest in attention "
        f"score and value products (2·L²·h per layer); {shape.layers} layers, h = {shape.hidden}, "
        f"i = {shape.intermediate}, {shape.heads} heads. Peaks assume {cores} cores at "
        f"{ghz:g} GHz (`--ghz`) and one instruction of the widest unit per cycle; an INT8 model's "
        "limit is its linear share at the INT8 peak plus its attention at the fp32 peak. The "
        "share of the limit is that best time over the time taken.",
        "",
        "| precision | unit assumed here | MACs / cycle / core | peak GMAC/s | why |",
        "|---|---|---:|---:|---|",
    ]
    for precision in PRECISIONS:
        for amx in (False, True):
            found = peak(precision, flags, cpu_name, cores, ghz, amx)
            if amx and found == peak(precision, flags, cpu_name, cores, ghz, False):
                continue  # no AMX here: one line
            unit = "AMX (OpenVINO only)" if amx else "vector"
            lines.append(
                f"| {precision} | {unit} | {found.macs_per_cycle} | "
                f"{found.macs_per_s / 1e9:.0f} | {found.why} |"
            )
    return "\n".join(lines)

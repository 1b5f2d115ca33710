"""Calibrators and abstention on a real bundle, measured on reviews they were never fitted on.

    nice -n 10 python -m benchmarks.calibration --bundle /work/main/export/ref \
        --archive ../shared/data/aclImdb_labelled.tar.gz --run ../shared/runs/minilm-imdb-1k

fp32 logits are computed once (benchmarks.common.calibration_cache, cached under
runs/calibration-cache/) for a pool of IMDb train reviews outside the run's training reviews
(calibration), a pool of test reviews outside its validation reviews (held-out test) and the
run's 200 validation reviews. Then, for each of ``--splits`` seeded splits, every calibrator
is fitted on ``--calibration-size`` reviews of the first pool and scored on ``--test-size`` of
the second: ECE (15 bins), log-loss and accuracy, mean and spread over the splits. Also: the
threshold ``--target-accuracy`` picks on the calibration reviews (as ``senticlf evaluate``
would) and what it gives on the held-out reviews, and the default export (the calibrator
chosen on the 200 validation reviews) against temperature fitted on the same 200. No timings:
these numbers do not depend on the machine's load.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from benchmarks.common import results
from benchmarks.common.calibration_cache import CACHE_DIR, Pools, load_pools
from benchmarks.common.records import Column, Spread, Table
from senticlf.evaluation import calibration, coverage, plots
from senticlf.runtime.calibrator import Calibrator

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
# The targets.
TARGET_ECE = 0.02
MAX_ACCURACY_LOSS = 0.003  # accuracy within 0.3 points of the uncalibrated model
ABSTENTION_FLOOR = 0.945
COVERAGE_TOLERANCE = 0.03
# What each row of the table is: a fixed kind, or "chosen" (export's cross-validated choice).
METHODS = ("uncalibrated", "temperature", "platt", "isotonic", "chosen")


def fitted(method: str, logits: np.ndarray, labels: np.ndarray) -> Calibrator:
    if method == "uncalibrated":
        return Calibrator()
    if method == "chosen":
        return calibration.fit_calibrator(logits, labels)
    return calibration.fit_kind(method, logits, labels)


def scores(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    return {
        "ece": calibration.expected_calibration_error(probabilities, labels),
        "log_loss": calibration.negative_log_likelihood(probabilities, labels),
        "accuracy": float(np.mean(probabilities.argmax(axis=1) == labels)),
    }


def spread(values: list[float]) -> dict[str, float]:
    return Spread.of(values).to_dict()


def one_split(pools: Pools, seed: int, cal_size: int, test_size: int, target: float) -> dict:
    rng = np.random.default_rng(seed)
    cal = rng.choice(len(pools.calibration_labels), cal_size, replace=False)
    test = rng.choice(len(pools.test_labels), test_size, replace=False)
    cal_logits, cal_labels = pools.calibration_logits[cal], pools.calibration_labels[cal]
    test_logits, test_labels = pools.test_logits[test], pools.test_labels[test]
    methods: dict[str, Any] = {}
    for method in METHODS:
        calibrator = fitted(method, cal_logits, cal_labels)
        methods[method] = {
            "calibrator": calibrator.describe(),
            "kind": calibrator.kind,
            **scores(calibrator.apply(test_logits), test_labels),
        }
    chosen = calibration.fit_calibrator(cal_logits, cal_labels)
    # ECE's own noise: labels drawn from the chosen probabilities are perfectly calibrated by
    # construction, yet 1,000 of them in 15 bins still show an ECE above 0.
    served = chosen.apply(test_logits)
    drawn = (rng.random(len(served)) < served[:, 1]).astype(np.int64)
    noise_floor = calibration.expected_calibration_error(served, drawn)
    promised = coverage.threshold_for_accuracy(chosen.apply(cal_logits), cal_labels, target)
    abstention: dict[str, Any] = {"promised": None if promised is None else promised.to_dict()}
    if promised is not None:
        held_out = coverage.point(
            chosen.apply(test_logits).max(axis=1),
            chosen.apply(test_logits).argmax(axis=1) == test_labels,
            promised.threshold,
        )
        abstention["held_out"] = held_out.to_dict()
    default = calibration.fit_calibrator(pools.val_logits, pools.val_labels)
    temperature = calibration.fit_kind("temperature", pools.val_logits, pools.val_labels)
    methods_on_val = {
        "default": {
            "calibrator": default.describe(),
            **scores(default.apply(test_logits), test_labels),
        },
        "temperature": {
            "calibrator": temperature.describe(),
            **scores(temperature.apply(test_logits), test_labels),
        },
    }
    return {
        "seed": seed,
        "methods": methods,
        "abstention": abstention,
        "ece_noise_floor": noise_floor,
        "export_on_200": methods_on_val,
        "_curves": {  # for the figure only; dropped before writing
            "calibration reviews (what evaluate promises)": coverage.coverage_curve(
                chosen.apply(cal_logits), cal_labels
            ),
            "held-out test reviews": coverage.coverage_curve(
                chosen.apply(test_logits), test_labels
            ),
        },
    }


def summarise(splits: list[dict]) -> dict[str, Any]:
    table = {}
    for method in METHODS:
        table[method] = {
            key: spread([s["methods"][method][key] for s in splits])
            for key in ("ece", "log_loss", "accuracy")
        }
        table[method]["kinds"] = sorted({s["methods"][method]["kind"] for s in splits})
    answered = [s["abstention"] for s in splits if "held_out" in s["abstention"]]
    abstention = {
        "splits_with_a_threshold": len(answered),
        "threshold": spread([a["promised"]["threshold"] for a in answered]) if answered else None,
        "promised_coverage": spread([a["promised"]["coverage"] for a in answered])
        if answered
        else None,
        "held_out_coverage": spread([a["held_out"]["coverage"] for a in answered])
        if answered
        else None,
        "held_out_accuracy": spread([a["held_out"]["accuracy"] for a in answered])
        if answered
        else None,
    }
    export = {
        name: {
            key: spread([s["export_on_200"][name][key] for s in splits])
            for key in ("ece", "log_loss")
        }
        for name in ("default", "temperature")
    }
    floor = spread([s["ece_noise_floor"] for s in splits])
    return {
        "table": table,
        "abstention": abstention,
        "export_on_200": export,
        "ece_noise_floor": floor,
    }


def targets(summary: dict[str, Any], splits: list[dict]) -> dict[str, Any]:
    chosen, raw = summary["table"]["chosen"], summary["table"]["uncalibrated"]
    accuracy_loss = raw["accuracy"]["mean"] - chosen["accuracy"]["mean"]
    per_split = [a["abstention"] for a in splits if "held_out" in a["abstention"]]

    def within(a: dict[str, Any]) -> bool:
        gap = abs(a["held_out"]["coverage"] - a["promised"]["coverage"])
        return a["held_out"]["accuracy"] >= ABSTENTION_FLOOR and gap <= COVERAGE_TOLERANCE

    every_split = len(per_split) == len(splits) and all(within(a) for a in per_split)
    mean_accuracy = float(np.mean([a["held_out"]["accuracy"] for a in per_split]))
    mean_gap = float(
        np.mean([abs(a["held_out"]["coverage"] - a["promised"]["coverage"]) for a in per_split])
    )
    export_ok = all(
        s["export_on_200"]["default"]["log_loss"]
        <= s["export_on_200"]["temperature"]["log_loss"] + 1e-12
        and s["export_on_200"]["default"]["ece"] <= s["export_on_200"]["temperature"]["ece"] + 1e-12
        for s in splits
    )
    return {
        "ece": {
            "target": f"<= {TARGET_ECE}",
            "value": chosen["ece"]["mean"],
            "met": chosen["ece"]["mean"] <= TARGET_ECE,
        },
        "accuracy": {
            "target": f"within {MAX_ACCURACY_LOSS * 100:.1f} points of uncalibrated",
            "value": -accuracy_loss,
            "met": accuracy_loss <= MAX_ACCURACY_LOSS,
        },
        "abstention": {
            "target": f">= {ABSTENTION_FLOOR:.1%} held-out accuracy at the promised coverage "
            f"+/- {COVERAGE_TOLERANCE * 100:.0f} points",
            "mean_accuracy": mean_accuracy,
            "mean_coverage_gap": mean_gap,
            "met": mean_accuracy >= ABSTENTION_FLOOR and mean_gap <= COVERAGE_TOLERANCE,
            "met_in_every_split": every_split,
        },
        "export_default": {
            "target": "the default export on the 200 validation reviews never worse than temperature (ECE and log-loss, every split)",
            "met": export_ok,
        },
    }


@app.command()
def main(
    bundle: Annotated[Path, typer.Option(help="The shared run's exported bundle (fp32 used).")],
    archive: Annotated[Path, typer.Option(help="aclImdb archive (labelled train and test).")],
    run: Annotated[Path, typer.Option(help="The run folder (train.csv, val.csv) it came from.")],
    out: Annotated[Path, typer.Option(help="Results folder.")] = results.FOLDER,
    calibration_pool: int = 2000,
    test_pool: int = 1500,
    calibration_size: int = 1000,
    test_size: int = 1000,
    splits: int = 5,
    target_accuracy: float = 0.95,
    threads: int = 2,
    cache_dir: Path = CACHE_DIR,
) -> None:
    with results.load_window() as load:
        pools = load_pools(bundle, archive, run, calibration_pool, test_pool, 0, threads, cache_dir)
        split_results = [
            one_split(pools, seed, calibration_size, test_size, target_accuracy)
            for seed in range(splits)
        ]
    curves = split_results[0].pop("_curves")
    for r in split_results[1:]:
        r.pop("_curves")
    summary = summarise(split_results)
    result = {
        "bundle": str(bundle),
        "reviews": {
            "calibration_pool": calibration_pool,
            "test_pool": test_pool,
            "validation": len(pools.val_labels),
            "calibration_per_split": calibration_size,
            "test_per_split": test_size,
            "splits": splits,
        },
        "target_accuracy": target_accuracy,
        "summary": summary,
        "targets": targets(summary, split_results),
        "splits": split_results,
    }
    lines = {name: [p.to_dict() for p in points] for name, points in curves.items()}
    figures = {COVERAGE_FIGURE: lambda path: plots.plot_coverage(lines, path)}
    print(
        results.write(
            "calibration",
            result,
            report(result),
            title=TITLE,
            load=load,
            folder=out,
            figures=figures,
        )
    )


TITLE = "Calibration and abstention on the shared run's bundle (fp32)"
COVERAGE_FIGURE = "calibration-coverage.png"


@dataclass(frozen=True)
class CalibratorRow:
    """One calibrator over the splits (held-out test reviews)."""

    name: str
    ece: Spread
    log_loss: Spread
    accuracy: Spread | None = None  # the export's rows are scored on ECE and log-loss only
    kinds: tuple[str, ...] = ()


@dataclass(frozen=True)
class SpreadRow:
    """One abstention figure over the splits; ``percent`` shares print as percent."""

    name: str
    spread: Spread
    percent: bool
    range_digits: int


@dataclass(frozen=True)
class Target:
    target: str
    figure: str
    met: bool


CALIBRATOR_COLUMNS: tuple[Column[CalibratorRow], ...] = (
    Column("calibrator", lambda c: c.name),
    Column("ECE", lambda c: c.ece.cell()),
    Column("log-loss", lambda c: c.log_loss.cell()),
    Column("accuracy", lambda c: c.accuracy.percent_cell() if c.accuracy else "-"),
    Column("kinds chosen", lambda c: ", ".join(c.kinds)),
)


def _range(row: SpreadRow, value: float) -> str:
    return f"{value:.{row.range_digits}%}" if row.percent else f"{value:.{row.range_digits}f}"


SPREAD_COLUMNS: tuple[Column[SpreadRow], ...] = (
    Column("", lambda r: r.name),
    Column("mean ± sd", lambda r: r.spread.percent_cell() if r.percent else r.spread.cell()),
    Column("min", lambda r: _range(r, r.spread.min)),
    Column("max", lambda r: _range(r, r.spread.max)),
)
EXPORT_COLUMNS: tuple[Column[CalibratorRow], ...] = (
    Column("fitted on the 200", lambda c: c.name),
    Column("ECE on held-out", lambda c: c.ece.cell()),
    Column("log-loss on held-out", lambda c: c.log_loss.cell()),
)
TARGET_COLUMNS: tuple[Column[Target], ...] = (
    Column("target", lambda t: t.target),
    Column("figure", lambda t: t.figure),
    Column("met", lambda t: "yes" if t.met else "no"),
)


def calibrator_rows(table: dict[str, Any]) -> list[CalibratorRow]:
    return [
        CalibratorRow(
            "chosen by cross-validated log-loss (export's default)"
            if method == "chosen"
            else method,
            ece=Spread.from_dict(row["ece"]),
            log_loss=Spread.from_dict(row["log_loss"]),
            accuracy=Spread.from_dict(row["accuracy"]),
            kinds=tuple(row["kinds"]),
        )
        for method, row in table.items()
    ]


def abstention_rows(a: dict[str, Any]) -> list[SpreadRow]:
    return [
        SpreadRow("threshold", Spread.from_dict(a["threshold"]), False, 4),
        SpreadRow("coverage promised (calibration reviews)", Spread.from_dict(a["promised_coverage"]), True, 1),
        SpreadRow("coverage on held-out reviews", Spread.from_dict(a["held_out_coverage"]), True, 1),
        SpreadRow("accuracy on held-out answered reviews", Spread.from_dict(a["held_out_accuracy"]), True, 2),
    ]  # fmt: skip


def target_rows(r: dict[str, Any]) -> list[Target]:
    t, n, s = r["targets"], r["reviews"], r["summary"]
    a = t["abstention"]
    return [
        Target(f"ECE {t['ece']['target']} (mean of {n['splits']})", f"{t['ece']['value']:.4f}", t["ece"]["met"]),
        Target(f"accuracy {t['accuracy']['target']}", f"{t['accuracy']['value'] * 100:+.2f} points", t["accuracy"]["met"]),
        Target(
            f"abstention: {a['target']} (mean of {n['splits']})",
            f"{a['mean_accuracy']:.2%} at a coverage gap of {a['mean_coverage_gap'] * 100:.1f} points",
            a["met"],
        ),
        Target("the same, in every split", f"min {s['abstention']['held_out_accuracy']['min']:.2%}", a["met_in_every_split"]),
        Target(t["export_default"]["target"], "see above", t["export_default"]["met"]),
    ]  # fmt: skip


def report(r: dict[str, Any]) -> list[results.Block]:
    s, n = r["summary"], r["reviews"]
    body: list[results.Block] = [
        "No timings are taken: these figures depend on logits and labels only.",
        f"{n['splits']} seeded splits; each fits on {n['calibration_per_split']:,} IMDb train "
        f"reviews outside the run's 1,000 training reviews (drawn from a pool of "
        f"{n['calibration_pool']:,}) and scores {n['test_per_split']:,} IMDb test reviews outside "
        f"its {n['validation']} validation reviews (from a pool of {n['test_pool']:,}). "
        f"Mean ± sd over the splits; ECE with {calibration.ECE_BINS} equal-width bins; labels "
        "are the argmax of the calibrated probabilities. fp32 logits are computed once by "
        "`benchmarks.common.calibration_cache` and cached under `runs/calibration-cache/`.",
        Table(calibrator_rows(s["table"]), CALIBRATOR_COLUMNS),
        f"ECE's noise floor at this size: {Spread.from_dict(s['ece_noise_floor']).cell()}, the ECE "
        "of the chosen calibrator's probabilities against labels drawn from those same "
        f"probabilities (perfectly calibrated by construction, {n['test_per_split']:,} reviews "
        "per split).",
        f"## Abstention: `--target-accuracy {r['target_accuracy']}`",
    ]
    if s["abstention"]["threshold"] is None:
        body.append("No threshold reached the target on the calibration reviews.")
    else:
        body += [
            "The threshold picked on each split's calibration reviews (the chosen calibrator's "
            "probabilities), applied to its held-out test reviews:",
            Table(abstention_rows(s["abstention"]), SPREAD_COLUMNS),
            f"Coverage curve of split 0 (calibration vs held-out reviews): `{COVERAGE_FIGURE}`.",
        ]
    e = s["export_on_200"]
    export = [
        CalibratorRow(name, Spread.from_dict(e[key]["ece"]), Spread.from_dict(e[key]["log_loss"]))
        for name, key in (("default (cross-validated choice)", "default"), ("temperature", "temperature"))
    ]  # fmt: skip
    chosen = sorted({x["export_on_200"]["default"]["calibrator"] for x in r["splits"]})
    body += [
        f"## The default export, fitted on the run's {n['validation']} validation reviews",
        Table(export, EXPORT_COLUMNS),
        "Chosen on the 200: " + ", ".join(chosen) + ".",
        "## Targets",
        Table(target_rows(r), TARGET_COLUMNS),
    ]
    return body


if __name__ == "__main__":
    app()

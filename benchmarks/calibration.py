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

import json
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from benchmarks.common import machine
from benchmarks.common.calibration_cache import CACHE_DIR, Pools, load_pools
from benchmarks.common.machine import machine_line
from senticlf import atomic
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
    return {
        "mean": float(np.mean(values)),
        "sd": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
        "min": float(np.min(values)),
        "max": float(np.max(values)),
    }


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


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


@app.command()
def main(
    bundle: Annotated[Path, typer.Option(help="The shared run's exported bundle (fp32 used).")],
    archive: Annotated[Path, typer.Option(help="aclImdb archive (labelled train and test).")],
    run: Annotated[Path, typer.Option(help="The run folder (train.csv, val.csv) it came from.")],
    out: Annotated[Path, typer.Option(help="Results folder.")] = Path("benchmarks/results"),
    calibration_pool: int = 2000,
    test_pool: int = 1500,
    calibration_size: int = 1000,
    test_size: int = 1000,
    splits: int = 5,
    target_accuracy: float = 0.95,
    threads: int = 2,
    cache_dir: Path = CACHE_DIR,
) -> None:
    before = uptime()
    pools = load_pools(bundle, archive, run, calibration_pool, test_pool, 0, threads, cache_dir)
    results = [
        one_split(pools, seed, calibration_size, test_size, target_accuracy)
        for seed in range(splits)
    ]
    curves = results[0].pop("_curves")
    for r in results[1:]:
        r.pop("_curves")
    summary = summarise(results)
    result = {
        "command": "python -m benchmarks.calibration " + " ".join(sys.argv[1:]),
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
        "targets": targets(summary, results),
        "splits": results,
        "machine": machine.describe(),
        "uptime_before": before,
        "uptime_after": uptime(),
    }
    atomic.write_text(out / "calibration.json", json.dumps(result, indent=2) + "\n")
    atomic.write_text(out / "calibration.md", markdown(result))
    lines = {name: [p.to_dict() for p in points] for name, points in curves.items()}
    plots.plot_coverage(lines, out / "calibration-coverage.png")
    print(markdown(result))


def _ms(x: dict[str, float], digits: int = 4, percent: bool = False) -> str:
    if percent:
        return f"{x['mean']:.2%} ± {x['sd'] * 100:.2f}"
    return f"{x['mean']:.{digits}f} ± {x['sd']:.{digits}f}"


def markdown(r: dict[str, Any]) -> str:
    s, n = r["summary"], r["reviews"]
    lines = [
        "# Calibration and abstention on the shared run's bundle (fp32)",
        "",
        machine_line(r["machine"]),
        "",
        f"Command: `{r['command']}`",
        "",
        f"Load (`uptime`) before: {r['uptime_before']}; after: {r['uptime_after']}. No timings are "
        "taken: these figures depend on logits and labels only.",
        "",
        f"{n['splits']} seeded splits; each fits on {n['calibration_per_split']:,} IMDb train "
        f"reviews outside the run's 1,000 training reviews (drawn from a pool of "
        f"{n['calibration_pool']:,}) and scores {n['test_per_split']:,} IMDb test reviews outside "
        f"its {n['validation']} validation reviews (from a pool of {n['test_pool']:,}). "
        f"Mean ± sd over the splits; ECE with {calibration.ECE_BINS} equal-width bins; labels "
        "are the argmax of the calibrated probabilities. fp32 logits are computed once by "
        "`benchmarks.common.calibration_cache` and cached under `runs/calibration-cache/`.",
        "",
        "| calibrator | ECE | log-loss | accuracy | kinds chosen |",
        "|---|---|---|---|---|",
    ]
    for method, row in s["table"].items():
        name = (
            "chosen by cross-validated log-loss (export's default)"
            if method == "chosen"
            else method
        )
        lines.append(
            f"| {name} | {_ms(row['ece'])} | {_ms(row['log_loss'])} | "
            f"{_ms(row['accuracy'], percent=True)} | {', '.join(row['kinds'])} |"
        )
    lines += [
        "",
        f"ECE's noise floor at this size: {_ms(s['ece_noise_floor'])}, the ECE of the chosen "
        "calibrator's probabilities against labels drawn from those same probabilities "
        f"(perfectly calibrated by construction, {n['test_per_split']:,} reviews per split).",
    ]
    a = s["abstention"]
    lines += ["", f"## Abstention: `--target-accuracy {r['target_accuracy']}`", ""]
    if a["threshold"] is None:
        lines.append("No threshold reached the target on the calibration reviews.")
    else:
        lines += [
            "The threshold picked on each split's calibration reviews (the chosen calibrator's "
            "probabilities), applied to its held-out test reviews:",
            "",
            "| | mean ± sd | min | max |",
            "|---|---|---|---|",
            f"| threshold | {_ms(a['threshold'])} | {a['threshold']['min']:.4f} | {a['threshold']['max']:.4f} |",
            f"| coverage promised (calibration reviews) | {_ms(a['promised_coverage'], percent=True)} | {a['promised_coverage']['min']:.1%} | {a['promised_coverage']['max']:.1%} |",
            f"| coverage on held-out reviews | {_ms(a['held_out_coverage'], percent=True)} | {a['held_out_coverage']['min']:.1%} | {a['held_out_coverage']['max']:.1%} |",
            f"| accuracy on held-out answered reviews | {_ms(a['held_out_accuracy'], percent=True)} | {a['held_out_accuracy']['min']:.2%} | {a['held_out_accuracy']['max']:.2%} |",
            "",
            "Coverage curve of split 0 (calibration vs held-out reviews): `calibration-coverage.png`.",
        ]
    e = s["export_on_200"]
    lines += [
        "",
        f"## The default export, fitted on the run's {n['validation']} validation reviews",
        "",
        "| fitted on the 200 | ECE on held-out | log-loss on held-out |",
        "|---|---|---|",
        f"| default (cross-validated choice) | {_ms(e['default']['ece'])} | {_ms(e['default']['log_loss'])} |",
        f"| temperature | {_ms(e['temperature']['ece'])} | {_ms(e['temperature']['log_loss'])} |",
        "",
        "Chosen on the 200: "
        + ", ".join(sorted({x["export_on_200"]["default"]["calibrator"] for x in r["splits"]}))
        + ".",
        "",
        "## Targets",
        "",
        "| target | figure | met |",
        "|---|---|---|",
    ]
    t = r["targets"]
    lines += [
        f"| ECE {t['ece']['target']} (mean of {n['splits']}) | {t['ece']['value']:.4f} | {'yes' if t['ece']['met'] else 'no'} |",
        f"| accuracy {t['accuracy']['target']} | {t['accuracy']['value'] * 100:+.2f} points | {'yes' if t['accuracy']['met'] else 'no'} |",
        f"| abstention: {t['abstention']['target']} (mean of {n['splits']}) | "
        f"{t['abstention']['mean_accuracy']:.2%} at a coverage gap of "
        f"{t['abstention']['mean_coverage_gap'] * 100:.1f} points | "
        f"{'yes' if t['abstention']['met'] else 'no'} |",
        f"| the same, in every split | min {s['abstention']['held_out_accuracy']['min']:.2%} | "
        f"{'yes' if t['abstention']['met_in_every_split'] else 'no'} |",
        f"| {t['export_default']['target']} | see above | {'yes' if t['export_default']['met'] else 'no'} |",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    app()

"""The engines a user who cares about CPU speed would pick instead, on the same token ids.

    python -m benchmarks.engines --bundle export/ref --run ../shared/runs/minilm-imdb-1k \
        --extra test.csv --extra-size 1000 --runs 4 --name stand-in-<cpu>
    python -m benchmarks.engines --bundle export/ref --run RUN --shape distilbert --name ...
    python -m benchmarks.engines --smoke --runs 1       # tiny model, end to end; numbers mean nothing

Engines: senticlf's default (``senticlf.load(bundle)``: its own plan, INT8 or fp32 as it picks);
ONNX Runtime (fp32, the bundle's dynamic INT8, static QDQ INT8 on the fused and on the unfused
graph); OpenVINO's own runtime (fp32, bf16 where the CPU has it, NNCF INT8); CTranslate2 (int8,
int8_float32, int16, float32; bfloat16 where it supports it); PyTorch eager. All are fed the
bundle's ReviewEncoder ids (same truncation, same max length).

Two phases, every process a fresh one:

1. *Alone*: each engine in a process of its own, one call at a time on every core. Its cold
   start (up to its first answer), peak RSS, agreement with ONNX Runtime fp32, accuracy, and
   batch invariance: each review alone (batch 1) against the same review in batches of 8 and
   32, length-sorted and shuffled. One pass per batch size picks the engine's batch: the
   fastest at which it is invariant (within the runtime's tolerance, no label flipped).
2. *Alternating runs*: every configuration of every engine at that batch, each run in a fresh
   process, the configurations taking turns round after round (``--runs``). On 2 cores the same
   ONNX Runtime configuration ran at 43 or 56 reviews/s in two fresh processes (its spinning
   threads), so one run per configuration, or all of them in one process, says little; the
   median and range of several fresh processes does. Configurations: one call at a time on
   every core, and several calls in flight (ONNX Runtime: streams of one thread over one
   session; OpenVINO: the THROUGHPUT hint, one infer request per stream and thread; CTranslate2:
   ``inter_threads``), each call holding only the texts an invariant batch may hold. Every
   run's answers are checked against the engine alone at batch 1.

The report ranks each engine by its best configuration, keeps its one-call-at-a-time figure
beside it, says whether a peer is far enough ahead of the best ONNX Runtime configuration to
ship as an optional backend (benchmarks.common.engines_report), and how close each runs to the
CPU's estimated peak (benchmarks.common.roofline).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from benchmarks.common import engines_build, int8_worker, internals, results
from benchmarks.common import machine as machines
from benchmarks.common.engines_report import DEFAULT, Configuration, Configured, Report
from benchmarks.common.roofline import DEFAULT_GHZ, Shape
from benchmarks.common.timing import read_reviews
from senticlf import artifacts, cpu

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

# The runtime's own rule (senticlf/runtime/plan.py): the sizes it tries, and the largest
# probability change that still counts as the same answer.
BATCH_SIZES = internals.candidate_batch_sizes()
INVARIANT = internals.invariance_tolerance("fp32")
REFERENCE, TORCH = "ort fp32", "pytorch eager fp32"
ENGINE_LIBRARIES = ("openvino", "nncf", "ctranslate2", "safetensors")
# The ONNX Runtime engine whose alone answers the default's are checked against, by model file.
BUNDLE_ENGINES = {
    artifacts.FP32_MODEL: REFERENCE,
    artifacts.INT8_MODEL: "ort int8 dynamic (bundle)",
}
# A child that has not answered by then has hung (an alone process scores thousands of reviews;
# a timed run classifies the timed reviews once).
ALONE_TIMEOUT_S, TIMED_TIMEOUT_S = 1800, 600


def groups_of(ids: list[list[int]], seed: int = 0) -> dict[str, list[list[int]]]:
    """Index groups per batch key: s<size> length-sorted, x<size> shuffled (mixed lengths)."""
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    shuffled = list(np.random.default_rng(seed).permutation(len(ids)))
    groups: dict[str, list[list[int]]] = {}
    for size in BATCH_SIZES:
        groups[f"s{size}"] = [order[s : s + size] for s in range(0, len(order), size)]
    for size in BATCH_SIZES[1:]:
        groups[f"x{size}"] = [
            [int(i) for i in shuffled[s : s + size]] for s in range(0, len(ids), size)
        ]
    return groups


def padded(encoder: Any, ids: list[list[int]], groups: list[list[int]]) -> list[int8_worker.Batch]:
    return [encoder.pad([ids[i] for i in rows]) for rows in groups]


def scatter(logits: np.ndarray, groups: list[list[int]]) -> np.ndarray:
    """Rows of ``logits`` (in batch order) back to input order."""
    out = np.empty_like(logits)
    out[[i for rows in groups for i in rows]] = logits
    return out


softmax = internals.softmax


def invariance(probs: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Per batch size: largest probability change and label flips against batch 1."""
    alone = probs["s1"]
    found = {}
    for size in BATCH_SIZES[1:]:
        entry: dict[str, float] = {}
        for order, key in (("sorted", f"s{size}"), ("shuffled", f"x{size}")):
            entry[f"{order}_max_change"] = float(np.abs(probs[key] - alone).max())
            entry[f"{order}_flips"] = int(np.sum(probs[key].argmax(1) != alone.argmax(1)))
        entry["invariant"] = bool(
            max(entry["sorted_max_change"], entry["shuffled_max_change"]) <= INVARIANT
            and entry["sorted_flips"] + entry["shuffled_flips"] == 0
        )
        found[str(size)] = entry
    return found


def best_invariant_batch(
    speeds: dict[str, float], checks: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The batch the timed runs use: the fastest invariant size in the engine's alone pass
    (batch 1 is invariant by definition), and the fastest non-invariant figure beside it when
    that is faster (reported, never ranked)."""
    invariant = {b: s for b, s in speeds.items() if b == "1" or checks[b]["invariant"]}
    best = max(invariant, key=invariant.__getitem__)
    result: dict[str, Any] = {"batch": int(best), "reviews_per_s": invariant[best]}
    others = {b: s for b, s in speeds.items() if b not in invariant and s > invariant[best]}
    if others:
        fastest = max(others, key=others.__getitem__)
        result["fastest_non_invariant"] = {"batch": int(fastest), "reviews_per_s": others[fastest]}
    return result


def same_answers(logits: np.ndarray, alone: np.ndarray) -> tuple[float, int]:
    """Largest probability change and label flips of a timed run against the engine alone at
    batch 1 (both in input order)."""
    probs, reference = softmax(logits), softmax(alone)
    change = float(np.abs(probs - reference).max())
    return change, int(np.sum(probs.argmax(1) != reference.argmax(1)))


def score(
    raw: dict[str, np.ndarray],
    groups: dict[str, list[list[int]]],
    extra_groups: list[list[int]] | None,
    reference: dict[str, np.ndarray] | None,  # None: these logits are the reference
    labels: dict[str, np.ndarray | None],
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Invariance, agreement with ONNX Runtime fp32 and accuracy from one engine's logits."""
    logits = {k: scatter(raw[k], g) for k, g in groups.items()}
    if extra_groups and "e8" in raw:
        logits["e8"] = scatter(raw["e8"], extra_groups)
    probs = {k: softmax(v) for k, v in logits.items()}
    found: dict[str, Any] = {"invariance": invariance(probs)}
    reference = logits if reference is None else reference  # None: this is the reference
    if "s1" in reference:  # empty when the reference engine failed
        ref = softmax(reference["s1"])
        found["agreement"] = float(np.mean(probs["s1"].argmax(1) == ref.argmax(1)))
        found["max_probability_change_vs_reference"] = float(np.abs(probs["s1"] - ref).max())
    if "e8" in probs and "e8" in reference:
        extra_ref = softmax(reference["e8"]).argmax(1)
        found["extra_agreement"] = float(np.mean(probs["e8"].argmax(1) == extra_ref))
    if labels["val"] is not None:
        found["accuracy"] = float(np.mean(probs["s1"].argmax(1) == labels["val"]))
    if labels["extra"] is not None and "e8" in probs:
        found["extra_accuracy"] = float(np.mean(probs["e8"].argmax(1) == labels["extra"]))
    return found, logits


def _child(mode: str, spec: dict[str, Any], batches: Path, out: Path, options: list[str]) -> tuple[list[str], Path]:  # fmt: skip
    spec_file = out.with_suffix(".spec.json")
    spec_file.write_text(json.dumps(spec))
    command = [sys.executable, "-m", "benchmarks.common.engines_worker", mode, str(spec_file)]
    return [*command, str(batches), str(out), *options], out


def _failure(stderr: str) -> dict[str, Any]:
    return {"error": (stderr.strip().splitlines() or ["failed"])[-1][:300]}


def own_process(
    spec: dict[str, Any], batches_file: Path, scratch: Path, threads: int, rounds: int
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """One engine alone in a fresh interpreter; cold start is counted up to its first answer."""
    options = ["--threads", str(threads), "--rounds", str(rounds)]
    command, out = _child("alone", spec, batches_file, scratch / "alone", options)
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first = process.stdout.readline()
    cold = time.perf_counter() - start
    try:
        _, err = process.communicate(timeout=ALONE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return {"error": f"no answer within {ALONE_TIMEOUT_S} s"}, {}
    if process.returncode or not first.startswith("first-answer"):
        return _failure(err), {}
    result = json.loads(out.with_suffix(".json").read_text())
    result["cold_start_s"] = cold
    with np.load(out.with_suffix(".npz")) as arrays:
        logits = {k: arrays[k] for k in arrays.files}
    return result, logits


def timed_once(
    config: Configuration, spec: dict[str, Any], batches_file: Path, scratch: Path
) -> tuple[dict[str, Any], np.ndarray | None]:
    """One run of one configuration in a fresh process: its reviews/s and the logits it timed."""
    options = ["--batch", str(config.batch), "--streams", str(config.streams)]
    options += ["--threads", str(config.threads)] + (["--spinning"] if config.spinning else [])
    command, out = _child("timed", spec, batches_file, scratch / "timed", options)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMED_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"error": f"no answer within {TIMED_TIMEOUT_S} s"}, None
    if done.returncode:
        return _failure(done.stderr), None
    with np.load(out.with_suffix(".npz")) as arrays:
        logits = arrays["logits"]
    return json.loads(out.with_suffix(".json").read_text()), logits


def configurations(
    specs: list[dict[str, Any]], batches: dict[str, int], cores: int
) -> list[Configuration]:
    """senticlf's default, then each engine that ran alone at its invariant batch: one call at a
    time on every core (ONNX Runtime's pool spinning, its default), and one single-thread call
    per core in flight (no spinning: nothing to spin for between a stream's calls)."""
    found = [Configuration(DEFAULT, "senticlf", 1, 0, 0, False)]
    for spec in specs:
        name, kind = spec["name"], spec["kind"]
        if name not in batches:
            continue
        found.append(Configuration(name, kind, batches[name], 1, cores, kind == "ort"))
        if kind != "torch" and cores > 1:
            found.append(Configuration(name, kind, batches[name], cores, 1, False))
    return found


def alternate(
    configs: list[Configuration],
    specs: dict[str, dict[str, Any]],
    batches_file: Path,
    scratch: Path,
    runs: int,
    check: Any,
    after_round: Any = lambda measured: None,
) -> dict[Configuration, dict[str, Any]]:
    """Every configuration ``runs`` times, each run a fresh process, in rotating order; a
    configuration that fails is dropped from the later rounds with its error kept."""
    measured: dict[Configuration, dict[str, Any]] = {c: {"runs": [], "checks": []} for c in configs}
    for round_ in range(runs):
        active = [c for c in configs if "error" not in measured[c]]
        shift = round_ % max(1, len(active))
        for config in active[shift:] + active[:shift]:
            result, logits = timed_once(config, specs[config.engine], batches_file, scratch)
            entry = measured[config]
            if logits is None:
                entry["error"] = result["error"]
                print(f"round {round_ + 1} {config.name}: failed: {result['error']}", flush=True)
                continue
            entry["runs"].append(result["reviews_per_s"])
            entry["described"] = result["described"]
            entry["peak_rss_mb"] = max(entry.get("peak_rss_mb", 0.0), result["peak_rss_mb"])
            entry["checks"].append(check(config, result["described"], logits))
            print(f"round {round_ + 1} {config.name}: {result['reviews_per_s']:.1f} reviews/s", flush=True)  # fmt: skip
        after_round(measured)
    return measured


def setup(
    smoke: bool,
    shape: str,
    bundle: Path | None,
    run: Path | None,
    scratch: Path,
) -> tuple[Path, Path, Path, Path]:
    """The PyTorch model, bundle, reviews to time and training reviews to calibrate on."""
    if smoke:
        from benchmarks.common.engines_smoke import tiny_run

        return tiny_run(scratch / "tiny", shape)
    if bundle is None or run is None:
        raise typer.BadParameter("--bundle and --run are needed (or --smoke)")
    model_dir = run / artifacts.RUN_MODEL_DIR
    if shape == "distilbert":
        from benchmarks.common.synthetic import distilbert_shaped_bundle

        manifest = artifacts.read_manifest(bundle)
        model_dir, bundle = distilbert_shaped_bundle(
            model_dir, scratch / "distilbert", manifest.max_length, manifest.truncation
        )
    elif shape != "stand-in":
        raise typer.BadParameter("--shape is stand-in or distilbert")
    return model_dir, bundle, run / artifacts.RUN_VAL_CSV, run / artifacts.RUN_TRAIN_CSV


@app.command()
def main(
    bundle: Annotated[Path | None, typer.Option(help="The run's bundle (fused fp32 + INT8).")] = None,
    run: Annotated[Path | None, typer.Option(help="The run folder: model/, val.csv, train.csv.")] = None,
    reviews: Annotated[Path | None, typer.Option(help="Reviews to time [default: the run's val.csv].")] = None,
    shape: Annotated[str, typer.Option(help="stand-in (the run's model) or distilbert (DistilBERT-base shape, random weights).")] = "stand-in",
    extra: Annotated[Path | None, typer.Option(help="Further labelled reviews for accuracy.")] = None,
    extra_size: Annotated[int, typer.Option(help="Score the first N of --extra.")] = 2000,
    calibration_reviews: Annotated[int, typer.Option(help="Training reviews for static INT8 and NNCF.")] = 100,
    engines: Annotated[str, typer.Option(help="Comma-separated substrings: only engines whose name contains one.")] = "",
    threads: Annotated[int, typer.Option(help="Cores every engine gets: one call on all of them, or one single-thread call per core.")] = 2,
    runs: Annotated[int, typer.Option(help="Fresh processes per configuration, taking turns (4 or more for a reported figure).")] = 4,
    rounds: Annotated[int, typer.Option(help="Passes per batch size in each engine's alone process (they pick its batch).")] = 1,
    ghz: Annotated[float, typer.Option(help="Clock assumed for the CPU's peak multiply-adds per second.")] = DEFAULT_GHZ,
    smoke: Annotated[bool, typer.Option(help="A tiny model and few reviews, end to end, in a few minutes.")] = False,
    out: Annotated[Path | None, typer.Option(help="Results folder [default: benchmarks/results; a scratch folder with --smoke].")] = None,
    name: Annotated[str | None, typer.Option(help="Results are engines-<name>.{json,md} [default: the shape].")] = None,
) -> None:  # fmt: skip
    if runs < 1:
        raise typer.BadParameter("--runs must be at least 1")
    scratch = Path(tempfile.mkdtemp(prefix="engines-"))
    out = out or (scratch / "results" if smoke else results.FOLDER)
    stem = f"engines-{name or (f'smoke-{shape}' if smoke else shape)}"
    model_dir, bundle, default_reviews, train_csv = setup(smoke, shape, bundle, run, scratch)
    if smoke and extra is None:
        from benchmarks.common.engines_smoke import TEST_CSV

        extra = default_reviews.parent / TEST_CSV
    encoder = internals.bundle_encoder(bundle)
    texts, val_labels = read_reviews(reviews or default_reviews)
    ids = encoder.encode(texts)
    groups = groups_of(ids)
    batches = {k: padded(encoder, ids, g) for k, g in groups.items()}
    extra_groups, extra_labels = None, None
    if extra is not None and (shape == "stand-in" or smoke):
        extra_texts, extra_labels = read_reviews(extra)
        extra_ids = encoder.encode(extra_texts[:extra_size])
        extra_labels = extra_labels[:extra_size]
        extra_groups = groups_of(extra_ids)["s8"]
        batches["e8"] = padded(encoder, extra_ids, extra_groups)
    batches_file = scratch / "batches.npz"
    int8_worker.save_batches(batches_file, batches)
    calibration = encoder.encode(read_reviews(train_csv)[0][:calibration_reviews])
    asked = [w.strip() for w in engines.split(",") if w.strip()]

    # The references always run: agreement is against ONNX Runtime fp32, PyTorch is the
    # baseline, and the default's answers are checked against its model file's engine alone.
    always = {REFERENCE, TORCH, *BUNDLE_ENGINES.values()}

    def wanted(engine: str) -> bool:
        return engine in always or not asked or any(w in engine for w in asked)

    specs, failed = engines_build.build_engines(
        model_dir, bundle, scratch / "engines", calibration, wanted
    )
    meaningful = shape == "stand-in" or smoke  # a random-weight DistilBERT has no accuracy
    labels = {"val": val_labels if meaningful else None, "extra": extra_labels}
    report = Report(
        shape=shape,
        smoke=smoke,
        reviews=len(texts),
        mean_tokens=float(np.mean([len(row) for row in ids])),
        max_length=encoder.max_length,
        truncation=encoder.truncation,
        extra_reviews=len(extra_labels) if extra_labels is not None else 0,
        cores=threads,
        runs=runs,
        rounds=rounds,
        calibration_reviews=len(calibration),
        invariance_bound=INVARIANT,
        bf16_instructions=engines_build.has_bf16(),
        not_built=failed,
        shape_of_model=Shape.of_model(model_dir),
        lengths=[len(row) for row in ids],
        ghz=ghz,
        instruction_sets=cpu.instruction_sets(),
        cpu_name=cpu.cpu_name(),
    )
    window = results.LoadWindow()
    machine = machines.describe(libraries=ENGINE_LIBRARIES)

    def write() -> str:
        return results.write(
            stem,
            report.to_dict(),
            report.body(),
            title=report.title(),
            load=window,
            folder=out,
            machine=machine,
        )

    # Phase 1: each engine alone (invariance, accuracy, cold start, its batch).
    alone_s1: dict[str, np.ndarray] = {}
    reference: dict[str, np.ndarray] | None = None
    torch_logits: np.ndarray | None = None
    for spec in sorted(specs, key=lambda s: s["name"] != REFERENCE):
        print(f"{spec['name']}: alone in its own process", flush=True)
        timing, raw = own_process(spec, batches_file, scratch, threads, rounds)
        entry: dict[str, Any] = {"spec": {k: v for k, v in spec.items() if k != "name"}, **timing}
        if raw:
            against = None if spec["name"] == REFERENCE else (reference or {})
            scores, logits = score(raw, groups, extra_groups, against, labels)
            entry.update(scores)
            entry["batch"] = best_invariant_batch(timing["reviews_per_s"], scores["invariance"])
            reference = logits if spec["name"] == REFERENCE else reference
            torch_logits = logits["s1"] if spec["name"] == TORCH else torch_logits
            alone_s1[spec["name"]] = logits["s1"]
        report.alone[spec["name"]] = entry
        write()
    for engine, entry in report.alone.items():
        if engine in alone_s1 and torch_logits is not None:
            difference = np.abs(alone_s1[engine] - torch_logits).max()
            entry["max_logit_difference_vs_pytorch"] = float(difference)

    # Phase 2: every configuration in alternating fresh processes.
    picked = {n: e["batch"]["batch"] for n, e in report.alone.items() if "batch" in e}
    configs = configurations(specs, picked, threads)
    by_name = {spec["name"]: spec for spec in specs}
    by_name[DEFAULT] = {"name": DEFAULT, "kind": "senticlf", "bundle": str(bundle)}

    def check(config: Configuration, described: dict[str, Any], logits: np.ndarray) -> dict[str, Any]:  # fmt: skip
        engine = config.engine
        if config.kind == "senticlf":
            engine = BUNDLE_ENGINES.get(described.get("model_file", ""), "")
        if engine not in alone_s1:
            return {"against": None}
        change, flips = same_answers(scatter(logits, groups[f"s{config.batch}"]), alone_s1[engine])  # fmt: skip
        return {"against": engine, "max_change": change, "flips": flips}

    def after_round(measured: dict[Configuration, dict[str, Any]]) -> None:
        report.configured = [
            Configured.of(config, entry, by_name[config.engine], INVARIANT)
            for config, entry in measured.items()
        ]
        write()

    total = len(configs) * runs
    print(f"{len(configs)} configurations x {runs} runs = {total} fresh processes", flush=True)
    alternate(configs, by_name, batches_file, scratch, runs, check, after_round)
    window.close()
    print(write())
    print(f"written: {out / f'{stem}.md'}")
    if not smoke:  # the built engines (hundreds of MB); a smoke run's results live there
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    app()

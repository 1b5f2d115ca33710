"""The engines a user who cares about CPU speed would pick instead, on the same token ids.

    python -m benchmarks.engines --bundle export/ref --run ../shared/runs/minilm-imdb-1k \
        --extra test.csv --extra-size 2000 --name stand-in-amx
    python -m benchmarks.engines --bundle export/ref --run RUN --shape distilbert --name ...
    python -m benchmarks.engines --smoke [--shape distilbert]      # tiny model, end to end

ONNX Runtime (fp32, dynamic INT8, static QDQ INT8 on the fused and on the unfused graph),
OpenVINO's own runtime (fp32, bf16, NNCF INT8), CTranslate2 (int8, int8_float32, int16,
float32; bfloat16 where it supports it) and PyTorch eager, all fed the bundle's ReviewEncoder
ids (same truncation, same max length) on the same threads. Each engine runs alone in its own
process (benchmarks.common.engines_worker), one after another, which also gives its cold start and
peak RSS; then all are timed interleaved in one process. Batch invariance is measured, not
assumed: each review alone (batch 1) against the same review in batches of 8 and 32, in
length-sorted order and shuffled (short texts beside long ones). The headline of an engine is
its reviews/s at the fastest batch size at which it is invariant (the runtime's rule:
senticlf/runtime/plan.py).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from benchmarks.common import engines_build, int8_worker, machine
from benchmarks.common.machine import machine_line
from benchmarks.common.timing import read_reviews
from senticlf import artifacts, atomic
from senticlf.runtime import plan
from senticlf.runtime.tokenize import ReviewEncoder

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

# The runtime's own rule (senticlf/runtime/plan.py): the sizes it tries, and the largest
# fp32/INT8 probability change that still counts as the same answer.
BATCH_SIZES = plan.CANDIDATE_BATCH_SIZES
INVARIANT = plan.INVARIANCE_TOLERANCE["fp32"]
REFERENCE, TORCH = "ort fp32", "pytorch eager fp32"
ENGINE_LIBRARIES = ("openvino", "nncf", "ctranslate2", "onnxruntime", "torch", "safetensors")


def versions() -> dict[str, str]:
    found = machine.versions()
    for name in ENGINE_LIBRARIES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def load_line() -> str:
    """`uptime` as the shell prints it: other work on the machine shows in the load average."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())


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


def padded(
    encoder: ReviewEncoder, ids: list[list[int]], groups: list[list[int]]
) -> list[int8_worker.Batch]:
    return [encoder.pad([ids[i] for i in rows]) for rows in groups]


def scatter(logits: np.ndarray, groups: list[list[int]]) -> np.ndarray:
    """Rows of ``logits`` (in batch order) back to input order."""
    out = np.empty_like(logits)
    out[[i for rows in groups for i in rows]] = logits
    return out


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(1, keepdims=True))
    return shifted / shifted.sum(1, keepdims=True)


def own_process(
    spec: dict[str, Any], batches_file: Path, scratch: Path, threads: int, rounds: int
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """One engine alone in a fresh interpreter; cold start is counted up to its first answer."""
    spec_file, out = scratch / "spec.json", scratch / "alone"
    spec_file.write_text(json.dumps(spec))
    command = [sys.executable, "-m", "benchmarks.common.engines_worker", "alone", str(spec_file)]
    command += [str(batches_file), str(out), "--threads", str(threads), "--rounds", str(rounds)]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first = process.stdout.readline()
    cold = time.perf_counter() - start
    _, err = process.communicate()
    if process.returncode or not first.startswith("first-answer"):
        return {"error": (err.strip().splitlines() or ["failed"])[-1][:300]}, {}
    result = json.loads(out.with_suffix(".json").read_text())
    result["cold_start_s"] = cold
    with np.load(out.with_suffix(".npz")) as arrays:
        logits = {k: arrays[k] for k in arrays.files}
    return result, logits


def interleaved(
    specs: list[dict[str, Any]], batches_file: Path, scratch: Path, threads: int, rounds: int
) -> dict[str, Any]:
    spec_file, out = scratch / "specs.json", scratch / "interleaved"
    spec_file.write_text(json.dumps(specs))
    command = [
        sys.executable,
        "-m",
        "benchmarks.common.engines_worker",
        "interleaved",
        str(spec_file),
    ]
    command += [str(batches_file), str(out), "--threads", str(threads), "--rounds", str(rounds)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1][:300]}
    return dict(json.loads(out.with_suffix(".json").read_text()))


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


def headline(speeds: dict[str, float], checks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Fastest invariant batch size (batch 1 is invariant by definition), and the fastest
    non-invariant figure beside it when that is faster."""
    invariant = {b: s for b, s in speeds.items() if b == "1" or checks[b]["invariant"]}
    best = max(invariant, key=invariant.__getitem__)
    result: dict[str, Any] = {"batch": int(best), "reviews_per_s": invariant[best]}
    others = {b: s for b, s in speeds.items() if b not in invariant and s > invariant[best]}
    if others:
        fastest = max(others, key=others.__getitem__)
        result["fastest_non_invariant"] = {"batch": int(fastest), "reviews_per_s": others[fastest]}
    return result


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
    threads: int = 2,
    rounds: Annotated[int, typer.Option(help="Timed passes per batch size, median kept.")] = 2,
    own_processes: Annotated[bool, typer.Option(help="Time each engine alone in its own process.")] = True,
    interleave: Annotated[bool, typer.Option(help="Also time all engines interleaved in one process.")] = True,
    smoke: Annotated[bool, typer.Option(help="A tiny model and few reviews, end to end, in a few minutes.")] = False,
    out: Annotated[Path | None, typer.Option(help="Results folder [default: benchmarks/results; a scratch folder with --smoke].")] = None,
    name: Annotated[str | None, typer.Option(help="Results are engines-<name>.{json,md} [default: the shape].")] = None,
) -> None:  # fmt: skip
    load_start = load_line()
    scratch = Path(tempfile.mkdtemp(prefix="engines-"))
    out = out or (scratch / "results" if smoke else Path("benchmarks/results"))
    name = name or (f"smoke-{shape}" if smoke else shape)
    model_dir, bundle, default_reviews, train_csv = setup(smoke, shape, bundle, run, scratch)
    if smoke and extra is None:
        from benchmarks.common.engines_smoke import TEST_CSV

        extra = default_reviews.parent / TEST_CSV
    encoder = ReviewEncoder.for_bundle(bundle, artifacts.read_manifest(bundle))
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

    def wanted(engine: str) -> bool:  # the two references are always run
        return engine in (REFERENCE, TORCH) or not asked or any(w in engine for w in asked)

    specs, failed = engines_build.build_engines(
        model_dir, bundle, scratch / "engines", calibration, wanted
    )
    meaningful = shape == "stand-in" or smoke  # a random-weight DistilBERT has no accuracy
    labels = {"val": val_labels if meaningful else None, "extra": extra_labels}
    results: dict[str, Any] = {
        "command": " ".join(["python -m benchmarks.engines", *sys.argv[1:]]),
        "shape": shape,
        "smoke": smoke,
        "reviews": len(texts),
        "mean_tokens": float(np.mean([len(row) for row in ids])),
        "max_length": encoder.max_length,
        "truncation": encoder.truncation,
        "extra_reviews": len(extra_labels) if extra_labels is not None else 0,
        "threads": threads,
        "rounds": rounds,
        "calibration_reviews": len(calibration),
        "invariance_bound": INVARIANT,
        "machine": {**machine.describe(), "versions": versions()},
        "bf16_instructions": engines_build.has_bf16(),
        "load": {"start": load_start},
        "not_built": failed,
        "engines": {},
    }
    reference: dict[str, np.ndarray] | None = None
    torch_logits: np.ndarray | None = None
    for spec in sorted(specs, key=lambda s: s["name"] != REFERENCE) if own_processes else []:
        print(f"timing {spec['name']} in its own process", flush=True)
        timing, raw = own_process(spec, batches_file, scratch, threads, rounds)
        entry: dict[str, Any] = {"spec": {k: v for k, v in spec.items() if k != "name"}, **timing}
        if raw:
            against = None if spec["name"] == REFERENCE else (reference or {})
            scores, logits = score(raw, groups, extra_groups, against, labels)
            entry.update(scores)
            entry["headline"] = headline(timing["reviews_per_s"], scores["invariance"])
            reference = logits if spec["name"] == REFERENCE else reference
            if spec["name"] == TORCH:
                torch_logits = logits["s1"]
            entry["_s1"] = logits["s1"]
        results["engines"][spec["name"]] = entry
        results["load"]["end"] = load_line()
        write(results, out, name)
    for entry in results["engines"].values():
        s1 = entry.pop("_s1", None)
        if s1 is not None and torch_logits is not None:
            entry["max_logit_difference_vs_pytorch"] = float(np.abs(s1 - torch_logits).max())
    if interleave:
        print("timing every engine interleaved in one process", flush=True)
        results["interleaved"] = interleaved(specs, batches_file, scratch, threads, rounds)
    results["load"]["end"] = load_line()
    write(results, out, name)
    print(markdown(results))
    print(f"written: {out / f'engines-{name}.md'}")


def write(results: dict[str, Any], out: Path, name: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    public = {
        **results,
        "engines": {
            n: {k: v for k, v in e.items() if not k.startswith("_")}
            for n, e in results["engines"].items()
        },
    }
    atomic.write_text(out / f"engines-{name}.json", json.dumps(public, indent=2) + "\n")
    atomic.write_text(out / f"engines-{name}.md", markdown(public))


def _speeds(speeds: dict[str, float] | None) -> str:
    if not speeds:
        return "-"
    return " / ".join(f"{speeds[str(b)]:.1f}" for b in BATCH_SIZES if str(b) in speeds)


def _invariance_cell(check: dict[str, Any] | None) -> str:
    if not check:
        return "-"
    change = max(check["sorted_max_change"], check["shuffled_max_change"])
    flips = check["sorted_flips"] + check["shuffled_flips"]
    mark = "yes" if check["invariant"] else "**no**"
    return f"{mark}: {change:.1e}, {flips} flips"


def _row(name: str, e: dict[str, Any], r: dict[str, Any]) -> list[str]:
    if "error" in e:
        return [name, f"failed: {e['error']}"] + [""] * 10
    h = e["headline"]
    fastest = h.get("fastest_non_invariant")
    inter = r.get("interleaved", {}).get("reviews_per_s", {}).get(name)
    row = [
        name,
        f"**{h['reviews_per_s']:.1f}** (b{h['batch']})",
        f"{fastest['reviews_per_s']:.1f} (b{fastest['batch']})" if fastest else "",
        _speeds(e["reviews_per_s"]),
        _speeds(inter),
        _invariance_cell(e["invariance"].get("8")),
        _invariance_cell(e["invariance"].get("32")),
        f"{e['agreement']:.1%} ({e['max_probability_change_vs_reference']:.1e})"
        if "agreement" in e
        else "-",
        f"{e['accuracy']:.1%}" if "accuracy" in e else "-",
        f"{e['extra_accuracy']:.2%} ({e['extra_agreement']:.1%})" if "extra_accuracy" in e else "-",
        f"{e['cold_start_s']:.1f}",
        f"{e['peak_rss_mb']:.0f}",
    ]
    diff = e.get("max_logit_difference_vs_pytorch")
    row.append(f"{diff:.1e}" if diff is not None else "-")
    return row


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        f"### Engines, {r['shape']} model{' (smoke: tiny model, numbers mean nothing)' if r['smoke'] else ''}: "
        f"{r['reviews']} reviews, mean {r['mean_tokens']:.0f} tokens (max length {r['max_length']}, {r['truncation']}), {r['threads']} threads",
        "",
        machine_line(m),
        "",
        f"bf16 instructions ({', '.join(engines_build.BF16_FLAGS)}): {'yes' if r['bf16_instructions'] else 'no (bf16 not measured)'}",
        "",
        f"Load (`uptime`) before: {r['load']['start']}; after: {r['load'].get('end', '-')}",
        "",
        f"Command: `{r['command']}`",
        "",
    ]
    header = [
        "engine",
        "headline reviews/s (invariant batch)",
        "fastest non-invariant",
        "reviews/s b1 / b8 / b32 own process",
        "b1 / b8 / b32 interleaved",
        "invariant at b8 (max change, flips)",
        "invariant at b32",
        f"agreement with {REFERENCE} (max prob change)",
        "val accuracy",
        f"{r['extra_reviews']} more: accuracy (agreement)" if r["extra_reviews"] else "",
        "cold start s",
        "peak RSS MB",
        "max logit diff vs PyTorch",
    ]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    engines = r["engines"]
    ranked = sorted(
        engines, key=lambda n: -engines[n].get("headline", {}).get("reviews_per_s", -1.0)
    )
    lines += ["| " + " | ".join(_row(n, engines[n], r)) + " |" for n in ranked]
    lines += [
        "",
        f"Headline: reviews/s at the fastest batch size whose answers equal batch 1's within "
        f"{r['invariance_bound']:g} (probability) with no label flipped, in length-sorted and "
        "shuffled batches; speeds are over the reviews length-sorted, each engine alone in its "
        "own process (median of the rounds). Accuracy on further reviews at batch 8. Every "
        f"engine gets the bundle's token ids; static INT8 and NNCF calibrated on {r['calibration_reviews']} training reviews, one at a time.",
    ]
    for n, e in engines.items():
        graph = e.get("spec", {}).get("graph")
        if graph:
            counts = ", ".join(f"{op} {c}" for op, c in graph.items() if c)
            lines.append(f"Graph of {n}: {counts}.")
    if "error" in r.get("interleaved", {}):
        lines.append(f"Interleaved run failed: {r['interleaved']['error']}")
    for n, why in r["not_built"].items():
        lines.append(f"Not built: {n}: {why}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    app()

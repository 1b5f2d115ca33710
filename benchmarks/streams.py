"""The library's default against other call plans, each run in a fresh process, taking turns.

    python -m benchmarks.streams --bundle /tmp/ref-bundle \
        --reviews ../shared/runs/minilm-imdb-1k/val.csv --runs 8 --baseline /tmp/senticlf-13b67d8

One configuration timed in two fresh processes a minute apart can differ by 30% on 2 cores
(ONNX Runtime's spinning threads, and which mode a process lands in when it starts), and every
configuration timed one after another in one process looks the same. So each run here is a
process of its own, the configurations take turns round after round, and the result is each
one's median and range, with `uptime`'s load averages before and after.

Configurations: ``default`` (``senticlf.load(bundle)`` as a user gets it), ``baseline`` (the
same call with another checkout of senticlf on PYTHONPATH, e.g. the commit before call plans
existed: today's default before this change), and fixed plans ``SxT`` (S streams of T threads,
``spin``/``nospin``). A run classifies every review once, as ``clf.predict(texts)`` does, after
one untimed call.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from benchmarks.common import results

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
ROOT = Path(__file__).resolve().parents[1]


def child(bundle: str, reviews: str, config: str) -> dict[str, Any]:
    """One timed run in this (fresh) process."""
    import time

    import senticlf
    from senticlf import data

    texts = [row.text for row in data.read_table(Path(reviews))]
    options: dict[str, Any] = {}
    if config not in ("default", "baseline"):
        shape, spin = config.split("-")
        streams, threads = (int(n) for n in shape.split("x"))
        options = {"streams": streams, "threads": threads}
    clf = senticlf.load(bundle, **options)
    if config not in ("default", "baseline") and spin == "spin":
        # the one knob the library does not take: rebuild the session with spinning on
        from senticlf.runtime.session import ModelRunner

        clf.runner = ModelRunner(clf.bundle_dir / clf.model_file, None, threads, spinning=True)
    clf.predict(texts[:1])
    start = time.perf_counter()
    clf.predict(texts)
    seconds = time.perf_counter() - start
    plan = getattr(clf, "plan", None)
    if plan is None:  # a checkout from before call plans: one call at a time on every core
        described = f"{clf.batch_size} text(s) a call; 1 stream, ONNX Runtime's threads, spinning"
    elif config not in ("default", "baseline") and spin == "spin":
        described = (
            f"{clf.batch_size} text(s) a call; {streams} stream(s) x {threads} thread(s), spinning"
        )
    else:
        described = plan.describe()
    return {
        "reviews_per_s": len(texts) / seconds,
        "model_file": clf.model_file,
        "senticlf": str(Path(senticlf.__file__).parent),
        "plan": described,
    }


def run_once(bundle: Path, reviews: Path, config: str, baseline: Path | None) -> dict[str, Any]:
    # The child's working folder comes first on its sys.path: the checkout whose senticlf it runs.
    path = baseline if config == "baseline" and baseline is not None else ROOT
    env = {**os.environ, "PYTHONPATH": f"{path}{os.pathsep}{ROOT}"}
    command = [sys.executable, "-m", "benchmarks.streams", "--child", config]
    command += ["--bundle", str(bundle.resolve()), "--reviews", str(reviews.resolve())]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=path, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{config} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


@app.command()
def main(
    bundle: Annotated[Path, typer.Option(help="The bundle to time.")],
    reviews: Annotated[Path, typer.Option(help="Reviews (any table senticlf reads).")],
    configs: Annotated[
        str, typer.Option(help="Comma-separated: default, baseline, SxT-spin|nospin.")
    ] = "default,baseline,1x2-spin,1x2-nospin,2x1-nospin",
    runs: Annotated[int, typer.Option(help="Fresh processes per configuration.")] = 8,
    baseline: Annotated[
        Path | None, typer.Option(help="Another senticlf checkout for the 'baseline' config.")
    ] = None,
    name: Annotated[str, typer.Option(help="Results file stem.")] = "streams",
    out: Annotated[Path, typer.Option(help="Results folder.")] = results.FOLDER,
    child_config: Annotated[str | None, typer.Option("--child", hidden=True)] = None,
) -> None:
    if child_config is not None:
        print(json.dumps(child(str(bundle), str(reviews), child_config)))
        return
    names = configs.split(",")
    if "baseline" in names and baseline is None:
        raise typer.BadParameter("the baseline configuration needs --baseline DIR")
    measured: dict[str, list[dict[str, Any]]] = {config: [] for config in names}
    with results.load_window() as load:
        for round_ in range(runs):
            shift = round_ % len(names)
            for config in names[shift:] + names[:shift]:
                result = run_once(bundle, reviews, config, baseline)
                measured[config].append(result)
                print(f"round {round_ + 1} {config}: {result['reviews_per_s']:.1f}", flush=True)
    record = {
        "bundle": str(bundle),
        "reviews": str(reviews),
        "runs": runs,
        "configs": {config: summary(rows) for config, rows in measured.items()},
    }
    title = "The library's call plans in alternating fresh processes"
    print(results.write(name, record, [markdown(record)], title=title, load=load, folder=out))


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    speeds = [row["reviews_per_s"] for row in rows]
    median = statistics.median(speeds)
    return {
        "reviews_per_s": speeds,
        "median": median,
        "min": min(speeds),
        "max": max(speeds),
        "slowest_vs_median": min(speeds) / median,
        "model_file": rows[0]["model_file"],
        "plan": rows[0]["plan"],
    }


def markdown(record: dict[str, Any]) -> str:
    configs = record["configs"]
    reference = configs.get("baseline", next(iter(configs.values())))["median"]
    lines = [
        f"{record['runs']} fresh processes per configuration, taking turns; reviews/s of "
        "`clf.predict(texts)` over every review after one untimed call.",
        "",
        "| configuration | model | plan | median | range | slowest / median | vs baseline |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for config, s in configs.items():
        lines.append(
            f"| {config} | {s['model_file']} | {s['plan']} | {s['median']:.1f} | "
            f"{s['min']:.1f}-{s['max']:.1f} | {s['slowest_vs_median']:.2f} | "
            f"{s['median'] / reference:.2f}x |"
        )
    runs = "; ".join(
        f"{c}: {', '.join(f'{v:.1f}' for v in s['reviews_per_s'])}" for c, s in configs.items()
    )
    return "\n".join([*lines, "", f"Every run, in order: {runs}.", ""])


if __name__ == "__main__":
    app()

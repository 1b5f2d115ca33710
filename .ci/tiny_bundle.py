"""A tiny exported bundle for .ci/wheel_check, made with the CI environment (torch and all).

The tests' own tiny DistilBERT and toy reviews, two short epochs, an fp32 export (checked and
calibrated as any export is): seconds on a CPU, and a real bundle for the installed wheel.

    python .ci/tiny_bundle.py OUT_DIR [HUB_CACHE]

With HUB_CACHE, the bundle is also laid out there as the Hugging Face cache holds a download
of the repo ``senticlf-ci/tiny`` (its main branch), for loading by Hub id offline.
"""

from __future__ import annotations

import csv
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests/ helpers

from rich.console import Console  # noqa: E402

from senticlf.export.bundle import export_run  # noqa: E402
from senticlf.export.options import ExportOptions  # noqa: E402
from senticlf.training.trainer import train  # noqa: E402
from tests.conftest import build_tiny_base_model, make_reviews, tiny_config  # noqa: E402
from tests.helpers import cache_bundle  # noqa: E402

HUB_ID = "senticlf-ci/tiny"


def main(output: Path, hub_cache: Path | None = None) -> None:
    quiet = Console(quiet=True)
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        files = {"csv": work / "train.csv", "eval_csv": work / "val.csv"}
        for path, rows in (
            (files["csv"], make_reviews(96, 1)),
            (files["eval_csv"], make_reviews(32, 2)),
        ):
            with open(path, "w", newline="", encoding="utf-8") as handle:
                csv.writer(handle).writerows([("text", "label"), *rows])
        base = build_tiny_base_model(work / "base")
        run = work / "run"
        train(tiny_config(files, base, epochs=2, max_length=32), run, console=quiet)
        export_run(run, output, ExportOptions(quantize=False, plan_runs=0), quiet)
    if hub_cache is not None:
        cache_bundle(hub_cache, HUB_ID, output, commit="c" * 40, refs=["main"])


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)

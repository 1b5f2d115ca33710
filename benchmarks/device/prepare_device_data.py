"""Pack what the GPU session needs into .device/ (git-ignored), within the 64 MiB it may carry.

    python -m benchmarks.device.prepare_device_data --archive ../shared/data/aclImdb_labelled.tar.gz \
        --encoder ../shared/models/all-MiniLM-L6-v2

The subsets are drawn exactly as `senticlf train --seed 42` draws them (asserted), so runs on the
device train and validate on the same reviews as the reference experiment here. The encoder's
weights travel as fp16 (half the size); training loads them back into fp32.
"""

from __future__ import annotations

import csv
import gzip
import io
import shutil
from pathlib import Path
from typing import Annotated

import typer

from senticlf import data

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


def write_gz(path: Path, rows: list[data.Review]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    path.write_bytes(gzip.compress(buffer.getvalue().encode("utf-8"), 9))


@app.command()
def main(
    archive: Annotated[Path, typer.Option()],
    encoder: Annotated[Path, typer.Option()],
    out: Path = Path(".device"),
    large_train: int = 10_000,
) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    splits = data.load_splits(str(archive))
    train_order = data.seeded_subset(splits.train, None, 42)
    test_order = data.seeded_subset(splits.test, None, 42)
    ref_train, ref_val = data.make_subsets(splits, 1000, 200, 42)
    assert ref_train == train_order[:1000] and ref_val == test_order[:200]
    (out / "data").mkdir(parents=True, exist_ok=True)
    write_gz(out / "data" / "ref_train.csv.gz", ref_train)
    write_gz(out / "data" / "ref_val.csv.gz", ref_val)
    write_gz(out / "data" / "extra_eval.csv.gz", test_order[200:2200])  # disjoint from ref_val
    write_gz(out / "data" / "large_train.csv.gz", train_order[:large_train])  # holds ref_train
    write_gz(out / "data" / "test_all.csv.gz", splits.test)
    write_gz(out / "data" / "train_all.csv.gz", splits.train)
    model_out = out / "minilm"
    model_out.mkdir(exist_ok=True)
    weights = load_file(str(encoder / "model.safetensors"))
    half = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in weights.items()}
    save_file(half, str(model_out / "model.safetensors"), metadata={"format": "pt"})
    for name in (
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "vocab.txt",
    ):
        shutil.copy(encoder / name, model_out / name)
    del torch


if __name__ == "__main__":
    app()

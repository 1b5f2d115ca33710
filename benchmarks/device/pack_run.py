"""Pack a run folder for the trip back from the GPU machine: fp16 weights, 15 MB parts.

    python -m benchmarks.device.pack_run runs/full $OUT/full-run.tar.part-

The device tool returns files of at most 16 MiB; halving the weights and splitting the tar
keeps a MiniLM-sized run within that. Unpack with `cat PREFIX* | tar -C runs -xf -`, then
`python -m benchmarks.device.pack_run --to-fp32 runs/full` before exporting.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
PART_BYTES = 15 * 2**20
KEEP = ("model", "metrics.json", "config.json", "val.csv", "errors.csv")


def convert(weights_file: Path, half: bool) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    dtype = torch.float16 if half else torch.float32
    weights = load_file(str(weights_file))
    converted = {
        k: (v.to(dtype) if v.is_floating_point() else v).contiguous() for k, v in weights.items()
    }
    save_file(converted, str(weights_file), metadata={"format": "pt"})


@app.command()
def main(
    run_dir: Path,
    prefix: Annotated[str, typer.Argument(help="Path prefix of the parts.")] = "",
    to_fp32: Annotated[
        bool, typer.Option("--to-fp32", help="Undo the fp16 packing in place.")
    ] = False,
) -> None:
    weights = run_dir / "model" / "model.safetensors"
    if to_fp32:
        convert(weights, half=False)
        return
    convert(weights, half=True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name in KEEP:
            if (run_dir / name).exists():
                archive.add(run_dir / name, arcname=f"{run_dir.name}/{name}")
    data = buffer.getvalue()
    for index, start in enumerate(range(0, len(data), PART_BYTES)):
        Path(f"{prefix}{index:02d}").write_bytes(data[start : start + PART_BYTES])


if __name__ == "__main__":
    app()

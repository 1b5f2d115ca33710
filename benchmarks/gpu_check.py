"""GPU check: the reference training configuration on the DistilBERT-base shape.

    python -m benchmarks.gpu_check --steps 60

Random weights and random token ids of the full max length (the worst case of the reference
run): AdamW lr 2e-5, weight decay 0.01, batch 16, max length 512, bf16 autocast (fp16 with a
grad scaler where bf16 is missing). Reports optimizer steps per second, reviews per second and
peak GPU memory, then PyTorch inference throughput at batch 32 and 128. Needs CUDA.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from benchmarks.common import machine, records, results

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
TITLE = "GPU check: the reference training configuration on the DistilBERT-base shape"


@dataclass(frozen=True)
class Measure:
    """One figure of the check, formatted."""

    name: str
    value: str


COLUMNS: tuple[records.Column[Measure], ...] = (
    records.Column("measure", lambda m: m.name),
    records.Column("value", lambda m: m.value, right=True),
)


def _sync_time(torch) -> float:  # type: ignore[no-untyped-def]
    torch.cuda.synchronize()
    return time.perf_counter()


@app.command()
def main(
    steps: Annotated[int, typer.Option(help="Timed optimizer steps after 10 warm-up steps.")] = 60,
    batch_size: int = 16,
    max_length: int = 512,
    out: Annotated[
        Path, typer.Option(help="JSON results file (the Markdown goes beside it).")
    ] = results.FOLDER / "gpu-check.json",
) -> None:
    import torch
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    if not torch.cuda.is_available():
        raise SystemExit("gpu_check needs a CUDA GPU")
    device = torch.device("cuda")
    bf16 = torch.cuda.is_bf16_supported()
    dtype = torch.bfloat16 if bf16 else torch.float16
    model = DistilBertForSequenceClassification(DistilBertConfig(num_labels=2)).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=0.01)
    scaler = torch.amp.GradScaler(enabled=not bf16)
    ids = torch.randint(1000, 30000, (batch_size, max_length), device=device)
    mask = torch.ones_like(ids)
    labels = torch.randint(0, 2, (batch_size,), device=device)

    def train_step() -> None:
        with torch.autocast("cuda", dtype=dtype):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)

    load = results.LoadWindow()
    model.train()
    for _ in range(10):
        train_step()
    torch.cuda.reset_peak_memory_stats()
    start = _sync_time(torch)
    for _ in range(steps):
        train_step()
    elapsed = _sync_time(torch) - start
    train_peak = torch.cuda.max_memory_allocated() / 2**30

    model.eval()
    inference = {}
    for infer_batch in (32, 128):
        x = torch.randint(1000, 30000, (infer_batch, max_length), device=device)
        with torch.inference_mode(), torch.autocast("cuda", dtype=dtype):
            for _ in range(3):
                model(input_ids=x, attention_mask=torch.ones_like(x))
            start = _sync_time(torch)
            for _ in range(10):
                model(input_ids=x, attention_mask=torch.ones_like(x))
            inference[str(infer_batch)] = 10 * infer_batch / (_sync_time(torch) - start)
    load.close()
    gpu = torch.cuda.get_device_name(0)
    result = {
        "gpu": gpu,
        "torch": torch.__version__,
        "precision": "bf16" if bf16 else "fp16",
        "batch_size": batch_size,
        "max_length": max_length,
        "train_steps_per_s": steps / elapsed,
        "train_reviews_per_s": steps * batch_size / elapsed,
        "train_peak_memory_gib": train_peak,
        "inference_reviews_per_s": inference,
        "reference_run_estimate_s": {
            "subset_5_epochs": 5 * 63 / (steps / elapsed),
            "full_5_epochs": 5 * 1563 / (steps / elapsed),
        },
    }
    on = machine.describe(gpu=gpu)
    text = results.write(
        out.stem, result, report(result), title=TITLE, load=load, folder=out.parent, machine=on
    )
    print(text)


def report(r: dict[str, Any]) -> list[results.Block]:
    estimate = r["reference_run_estimate_s"]
    rows = [
        Measure("optimizer steps/s", f"{r['train_steps_per_s']:.1f}"),
        Measure("training reviews/s", f"{r['train_reviews_per_s']:,.0f}"),
        Measure("peak GPU memory, training (GiB)", f"{r['train_peak_memory_gib']:.2f}"),
        *(
            Measure(f"inference reviews/s, batch {batch}", f"{speed:,.0f}")
            for batch, speed in r["inference_reviews_per_s"].items()
        ),
        Measure("reference run, 1,000-review subset, 5 epochs (s)", f"{estimate['subset_5_epochs']:.1f}"),
        Measure("reference run, full data, 5 epochs (s)", f"{estimate['full_5_epochs']:.0f}"),
    ]  # fmt: skip
    return [
        f"{r['gpu']}, torch {r['torch']}, {r['precision']}; batch {r['batch_size']}, "
        f"{r['max_length']} tokens, random weights and token ids (speed only).",
        records.Table(rows, COLUMNS),
    ]


if __name__ == "__main__":
    app()

"""Time call plans in fresh processes that take turns: the only timing that tells them apart.

On 2 cores, one configuration timed in two fresh processes a minute apart ran at 43 and at 56
reviews/s, and every configuration timed one after another in one process ran at the same
speed: an idle session's spinning threads slow the next one, and whether a process lands in
the slow mode is decided when it starts. So each configuration runs in a process of its own,
the configurations take turns round after round, and the runtime keeps the one with the best
median among those whose slowest run stayed close to it (plan.best_trial).

Run as ``python -m senticlf.runtime.execution_trials`` it is the child: one model, one
configuration, one timing, printed as JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from senticlf import artifacts
from senticlf.errors import SenticlfError, first_line
from senticlf.runtime.batching import TokenIds, length_sorted_batches
from senticlf.runtime.session import CPU, ModelRunner
from senticlf.runtime.streams import Streams
from senticlf.runtime.tokenize import pad_batch

# Reviews per timing: enough for a second or more of work, few enough to keep export short.
TRIAL_TEXTS = 96
_CHILD_TIMEOUT_S = 600

Config = tuple[int, artifacts.Execution]  # (batch size, execution)


def time_configurations(
    model_path: Path,
    ids: Sequence[TokenIds],
    pad_id: int,
    configurations: Sequence[Config],
    runs: int,
    on_run: Callable[[], None] | None = None,
) -> tuple[artifacts.ExecutionTrial, ...]:
    """Each configuration ``runs`` times, each time in a fresh process, in rotating order."""
    sample = list(ids[:TRIAL_TEXTS])
    speeds: dict[Config, list[float]] = {config: [] for config in configurations}
    with tempfile.TemporaryDirectory(prefix="senticlf-trials-") as scratch:
        ids_file = Path(scratch) / "ids.json"
        ids_file.write_text(json.dumps(sample))
        for round_ in range(runs):
            shift = round_ % len(configurations)
            for config in [*configurations[shift:], *configurations[:shift]]:
                speeds[config].append(_time_in_child(model_path, ids_file, pad_id, config))
                if on_run is not None:
                    on_run()
    return tuple(
        artifacts.ExecutionTrial(execution, batch_size, tuple(runs_))
        for (batch_size, execution), runs_ in speeds.items()
    )


def _time_in_child(model_path: Path, ids_file: Path, pad_id: int, config: Config) -> float:
    batch_size, execution = config
    command = [
        sys.executable,
        "-m",
        "senticlf.runtime.execution_trials",
        str(model_path),
        str(ids_file),
        f"--pad-id={pad_id}",
        f"--batch-size={batch_size}",
        f"--streams={execution.streams}",
        f"--threads={execution.threads}",
        f"--spinning={int(execution.spinning)}",
    ]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=_CHILD_TIMEOUT_S, check=True
        )
        return float(json.loads(done.stdout.strip().splitlines()[-1])["reviews_per_s"])
    except subprocess.CalledProcessError as exc:
        last = (exc.stderr or "").strip().splitlines() or [str(exc)]
        raise SenticlfError(f"timing {execution.label()} failed: {last[-1]}") from None
    except (subprocess.TimeoutExpired, ValueError, KeyError, IndexError) as exc:
        raise SenticlfError(f"timing {execution.label()} failed: {first_line(exc)}") from None


def time_here(
    model_path: Path,
    ids: Sequence[TokenIds],
    pad_id: int,
    batch_size: int,
    execution: artifacts.Execution,
) -> float:
    """Reviews/s of one configuration in this process, after a warm-up call per stream."""
    runner = ModelRunner(model_path, [CPU], execution.threads, spinning=execution.spinning)
    streams = Streams(execution.streams)

    def run(batch: list[TokenIds]) -> np.ndarray:
        return runner.logits(*pad_batch(batch, pad_id))

    longest = sorted(range(len(ids)), key=lambda i: len(ids[i]))[-execution.streams :]
    streams.run(ids, [[i] for i in longest], run)
    start = time.perf_counter()
    streams.run(ids, length_sorted_batches([len(s) for s in ids], batch_size), run)
    seconds = time.perf_counter() - start
    streams.close()
    return len(ids) / max(seconds, 1e-9)


def _child(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", type=Path)
    parser.add_argument("ids", type=Path)
    parser.add_argument("--pad-id", type=int, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--streams", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--spinning", type=int, choices=(0, 1), required=True)
    args = parser.parse_args(argv)
    ids = json.loads(args.ids.read_text())
    execution = artifacts.Execution(args.streams, args.threads, bool(args.spinning))
    speed = time_here(args.model, ids, args.pad_id, args.batch_size, execution)
    print(json.dumps({"reviews_per_s": speed}))


if __name__ == "__main__":
    _child()

"""What export measured about speed, in words: each model at its batch size, INT8 vs fp32.

Without VNNI, INT8 can gain little or even lose to fp32 (benchmarks/results/int8-variants-*.md),
so the export report says what it measured here, each model with its call plan (the fastest
batch-invariant batch size, streams and threads: runtime/plan.py), and warns when INT8 does
not pay.
"""

from __future__ import annotations

from senticlf import artifacts
from senticlf.runtime.plan import recorded_speeds


def batching_lines(manifest: artifacts.Manifest) -> list[str]:
    if manifest.batching is None:
        return []
    lines = []
    for name, profile in manifest.batching.models.items():
        changes = ", ".join(
            f"{change:.1e} at batch {size}"
            for size, change in profile.max_probability_change.items()
        )
        plan = f", {profile.execution.label()}" if profile.execution else ""
        lines.append(
            f"{name}: batch {profile.batch_size}{plan}, {profile.speed:.1f} reviews/s; "
            f"batch-invariant up to {profile.invariant_up_to} (largest probability change vs "
            f"alone: {changes or '-'})"
        )
        for trial in profile.trials:
            runs = ", ".join(f"{speed:.1f}" for speed in trial.reviews_per_s)
            lines.append(f"  batch {trial.batch_size}, {trial.execution.label()}: {runs}")
    return lines


def not_faster_warning(manifest: artifacts.Manifest) -> str | None:
    measured = recorded_speeds(manifest)
    if artifacts.INT8_MODEL not in measured:
        return None
    int8, fp32 = measured[artifacts.INT8_MODEL], measured[artifacts.FP32_MODEL]
    if int8 > fp32:
        return None
    return (
        f"INT8 is not faster than fp32 on this CPU ({int8:.1f} vs {fp32:.1f} reviews/s, each at "
        "its batch-invariant batch size), so the predictor serves fp32 by default on this CPU; "
        "INT8 stays in the bundle for CPUs where it pays (`--int8`, load(..., quantized=True))"
    )

"""What export measured about speed, in words: each model at its batch size, INT8 vs fp32.

Without VNNI, INT8 can gain little or even lose to fp32 (benchmarks/results/int8-variants-*.md),
so the export report says what it measured here, each model at the fastest batch size at
which it is batch-invariant (runtime/batch_choice.py), and warns when INT8 does not pay.
"""

from __future__ import annotations

from senticlf import artifacts


def speeds(manifest: artifacts.Manifest) -> dict[str, float]:
    """Reviews per second of each model at its chosen batch size, on the exporting CPU."""
    if manifest.batching is None:
        return {}
    return {
        name: profile.reviews_per_s[profile.batch_size]
        for name, profile in manifest.batching.models.items()
    }


def batching_lines(manifest: artifacts.Manifest) -> list[str]:
    if manifest.batching is None:
        return []
    lines = []
    for name, profile in manifest.batching.models.items():
        changes = ", ".join(
            f"{change:.1e} at batch {size}"
            for size, change in profile.max_probability_change.items()
        )
        lines.append(
            f"{name}: batch {profile.batch_size}, "
            f"{profile.reviews_per_s[profile.batch_size]:.1f} reviews/s; batch-invariant up to "
            f"{profile.invariant_up_to} (largest probability change vs alone: {changes or '-'})"
        )
    return lines


def not_faster_warning(manifest: artifacts.Manifest) -> str | None:
    measured = speeds(manifest)
    if artifacts.INT8_MODEL not in measured:
        return None
    int8, fp32 = measured[artifacts.INT8_MODEL], measured[artifacts.FP32_MODEL]
    if int8 > fp32:
        return None
    return (
        f"INT8 is not faster than fp32 on this CPU ({int8:.1f} vs {fp32:.1f} reviews/s, each at "
        "its batch-invariant batch size); it is kept for its size, and "
        "`senticlf predict --fp32` (or load(..., quantized=False)) serves fp32"
    )

"""What a caller may ask of the predictor, as one validated value.

The library, the CLI's predict/evaluate/serve, the server and the Ray workers all build a
:class:`PredictorOptions` and pass it whole, so each option is spelled and checked once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from senticlf.errors import SenticlfError
from senticlf.runtime.confidence import MIN_CONFIDENCE

DEVICES = ("cpu", "cuda")
# The label of a text whose probability falls below ``min_confidence`` (abstention).
UNCERTAIN = "uncertain"


def available_cores() -> int:
    """Cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def check_device(device: str | None) -> str | None:
    """The one check of a device name, for the CLI, the Ray driver and the predictor."""
    if device is not None and device not in DEVICES:
        raise SenticlfError(f"--device must be one of {', '.join(DEVICES)}, got {device!r}")
    return device


def check_min_confidence(
    min_confidence: float | None, name: str = "min confidence"
) -> float | None:
    """The range check of min_confidence for the library and the server's option (a request's
    field is checked by its schema against the same :data:`MIN_CONFIDENCE`)."""
    if min_confidence is not None and min_confidence not in MIN_CONFIDENCE:
        raise SenticlfError(f"{name} must be in {MIN_CONFIDENCE}, got {min_confidence}")
    return min_confidence


@dataclass(frozen=True)
class PredictorOptions:
    """How a bundle is loaded and run; None everywhere means "as measured for this CPU".

    ``threads`` are ONNX Runtime's intra-op threads of one call and ``streams`` the calls run
    at once over the one session; together they may use ``cores`` (default: every core this
    process may use; a Ray actor passes the CPUs it reserved). ``batch_size`` is the most texts
    per call, never above what the model was measured batch-invariant at.
    """

    quantized: bool | None = None
    device: str | None = None
    providers: tuple[str, ...] | None = None
    threads: int | None = None
    streams: int | None = None
    cores: int | None = None
    batch_size: int | None = None
    threshold: float | None = None
    min_confidence: float | None = None

    def __post_init__(self) -> None:
        check_device(self.device)
        if self.providers is not None:  # any sequence in, a tuple kept; an empty one is None
            object.__setattr__(self, "providers", tuple(self.providers) or None)
        if self.providers is not None and self.device is not None:
            raise SenticlfError("pass a device or a list of providers, not both")
        for option, value in self._counts().items():
            if value is not None and value < 1:
                raise SenticlfError(f"{option} must be at least 1, got {value}")
        if self.threshold is not None and not 0 < self.threshold < 1:
            raise SenticlfError(f"threshold must be between 0 and 1, got {self.threshold}")
        check_min_confidence(self.min_confidence)
        if self.threads and self.streams and self.threads * self.streams > self.budget:
            raise SenticlfError(
                f"{self.streams} stream(s) x {self.threads} thread(s) need "
                f"{self.threads * self.streams} cores; {self.budget} are available"
            )

    def _counts(self) -> dict[str, int | None]:
        return {
            "batch size": self.batch_size,
            "--threads": self.threads,
            "--streams": self.streams,
            "cores": self.cores,
        }

    @property
    def budget(self) -> int:
        """Cores the predictor's calls may keep busy together."""
        return self.cores or available_cores()

    def with_changes(self, **changes: Any) -> PredictorOptions:
        return replace(self, **changes)

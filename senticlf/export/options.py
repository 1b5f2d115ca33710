"""The settings of one export, checked when they are made, before any work starts.

A mistyped ``--preset`` used to fail only after the ONNX export and the PyTorch comparison;
validating here (as TrainConfig does for training) makes it fail at once. The CLI reads its
defaults from this class, so each default has one source. Torch-free, so `senticlf --help`
stays light.
"""

from __future__ import annotations

from dataclasses import dataclass

from senticlf import cpu
from senticlf.cpu import PRESETS
from senticlf.errors import SenticlfError


def accuracy_drop_points(reference: float, accuracy: float) -> float:
    """Accuracy points lost from ``reference`` to ``accuracy``, rounded to 1e-9 points.

    Accuracies are ratios of review counts, so a drop is a whole number of reviews; computed
    in floating point, 86.0% -> 85.0% (2 of 200 reviews) comes out as 1.0000000000000009
    points, and a gate of "at most 1 point" would refuse it. No real drop is that close to a
    limit without being on it.
    """
    return round((reference - accuracy) * 100, 9)


@dataclass(frozen=True)
class ExportOptions:
    quantize: bool = False
    preset: str | None = None  # None: the preset for the CPU export runs on (see int8_preset)
    max_accuracy_drop: float = 1.0  # INT8 may lose at most this many accuracy points
    min_agreement: float = 0.98  # and must agree with fp32 on at least this share of reviews
    overwrite: bool = False
    opset: int | None = None
    optimize: bool = True
    calibrate: bool = True  # fit a calibrator (temperature, Platt or isotonic; see calibration)
    # Labelled reviews to calibrate on (any source `train --data` reads); None: the run's
    # validation reviews.
    calibration_data: str | None = None
    fp16: bool = False  # add model.fp16.onnx, the model the runtime uses on CUDA
    # Rounds of fresh-process timings of each call plan (streams x threads x spinning);
    # 0 skips them and the runtime uses its default plan for the CPU.
    plan_runs: int = 5

    def __post_init__(self) -> None:
        if self.preset is not None and self.preset not in PRESETS:
            raise SenticlfError(
                f"--preset must be one of {', '.join(PRESETS)}, got {self.preset!r}"
            )
        if self.preset is not None and not self.quantize:
            raise SenticlfError("--preset chooses how INT8 is made: add --quantize, or drop it")
        if self.quantize and self.preset is not None and not cpu.runs_here(self.preset):
            # INT8 is checked and timed here: a family whose instructions this CPU lacks
            # could be neither, so refuse it before any export work.
            raise SenticlfError(
                f"--preset {self.preset} needs a CPU with {cpu.required_instructions(self.preset)}; "
                f"this one ({cpu.cpu_name()}) has "
                f"{', '.join(cpu.instruction_sets()) or 'none of them'}: "
                f"omit --preset to use {cpu.int8_preset()}"
            )
        if self.max_accuracy_drop < 0:
            raise SenticlfError(f"--max-accuracy-drop must be >= 0, got {self.max_accuracy_drop}")
        if not 0 < self.min_agreement <= 1:
            raise SenticlfError(f"--min-agreement must be in (0, 1], got {self.min_agreement}")
        if self.calibration_data is not None and not self.calibrate:
            raise SenticlfError("--calibration-data and --no-calibrate exclude each other")
        if self.plan_runs < 0:
            raise SenticlfError(f"--plan-runs must be >= 0, got {self.plan_runs}")
        if self.opset is not None and not 11 <= self.opset <= 25:
            raise SenticlfError(f"--opset must be between 11 and 25, got {self.opset}")

    def passes_gate(self, fp32_accuracy: float, accuracy: float, agreement: float) -> bool:
        """The export gate of a reduced-precision model (INT8, fp16) against fp32: at most
        ``max_accuracy_drop`` points lost and at least ``min_agreement`` of fp32's labels kept."""
        drop = accuracy_drop_points(fp32_accuracy, accuracy)
        return drop <= self.max_accuracy_drop and agreement >= self.min_agreement

    @property
    def int8_preset(self) -> str:
        """The CPU family to quantize for: the one asked for, else this CPU's."""
        return self.preset or cpu.int8_preset()

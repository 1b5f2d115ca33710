"""What the CPU can do, for choosing an INT8 preset and for labelling every timing."""

from __future__ import annotations

import platform
from pathlib import Path

_FLAGS_OF_INTEREST = (
    "avx512_vnni",
    "avx_vnni",
    "avx512f",
    "avx2",
    "avx512_bf16",
    "amx_bf16",
    "amx_int8",
)

# Optimum's dynamic INT8 presets, one per CPU family, and what each needs from the CPU that
# quantizes with it (INT8 is scored and timed there, so a family it cannot run is refused).
PRESETS = ("avx512_vnni", "avx512", "avx2", "arm64")
_REQUIRED_FLAG = {"avx512_vnni": "avx512_vnni", "avx512": "avx512f", "avx2": "avx2"}


def cpu_flags() -> set[str]:
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        return set()
    for line in cpuinfo.read_text(errors="replace").splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def instruction_sets() -> list[str]:
    flags = cpu_flags()
    return [flag for flag in _FLAGS_OF_INTEREST if flag in flags]


def int8_preset() -> str:
    """The Optimum quantization preset that fits this CPU best."""
    if platform.machine().lower() in ("arm64", "aarch64"):
        return "arm64"
    flags = cpu_flags()
    if "avx512_vnni" in flags:
        return "avx512_vnni"
    if "avx512f" in flags:
        return "avx512"
    return "avx2"


def runs_here(preset: str) -> bool:
    """Can this CPU run (and so check and time) INT8 made with ``preset``?"""
    here = int8_preset()
    if preset == "arm64" or here == "arm64":
        return preset == here
    return _REQUIRED_FLAG[preset] in cpu_flags()


def required_instructions(preset: str) -> str:
    return _REQUIRED_FLAG.get(preset, preset)

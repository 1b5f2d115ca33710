"""The options of one ``predict --engine ray`` run, checked without importing Ray.

The CLI builds a :class:`RayJob` (or checks that no Ray-only option was given to the local
engine) before it imports Ray, so a mistake costs no Ray start-up and needs no Ray installed;
senticlf.scale.ray_files runs the job.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from senticlf.errors import SenticlfError
from senticlf.runtime.options import PredictorOptions


@dataclass(frozen=True)
class RayJob:
    """One `predict --engine ray` run: files in, a folder of files out.

    ``bundle`` None means the newest bundle under export/, resolved by the caller.
    """

    source: Path
    output: Path
    bundle: Path | None = None
    text_column: str | None = None
    overwrite: bool = False
    address: str | None = None
    num_workers: int | None = None
    ship_bundle: bool = False
    predictor: PredictorOptions = PredictorOptions()

    @classmethod
    def from_cli(
        cls, source: str, output: Path | None, output_format: str, **options: object
    ) -> RayJob:
        """The CLI's options, checked: Ray reads files and writes a folder in OUT's format."""
        if output is None:
            raise SenticlfError("--engine ray writes a folder of files: pass --output OUT")
        if source == "-":
            raise SenticlfError("--engine ray reads files, not stdin; pass INPUT as a path")
        if output_format != "text":
            raise SenticlfError(
                "with --engine ray the output format follows --output's suffix "
                "(.parquet, .csv, .jsonl; else the input's); drop --format"
            )
        return cls(Path(source), output, **options)  # type: ignore[arg-type]


def refuse_on_local_engine(address: str | None, num_workers: int | None, ship_bundle: bool) -> None:
    """The options that mean something only to Ray, given to the local engine: one error."""
    ray_only = {"--address": address, "--num-workers": num_workers, "--ship-bundle": ship_bundle}
    if given := [name for name, value in ray_only.items() if value]:
        raise SenticlfError(f"{', '.join(given)} only apply with --engine ray")

"""The Ray job's options are checked without Ray: the CLI refuses mistakes before importing it."""

import subprocess
import sys
from pathlib import Path

import pytest

from senticlf.errors import SenticlfError
from senticlf.scale.options import RayJob, refuse_on_local_engine


def test_a_ray_job_from_the_cli_keeps_its_options():
    job = RayJob.from_cli("in.parquet", Path("out"), "text", num_workers=2, ship_bundle=True)
    assert job == RayJob(Path("in.parquet"), Path("out"), num_workers=2, ship_bundle=True)


@pytest.mark.parametrize(
    ("source", "output", "fmt", "fragment"),
    [
        ("in.csv", None, "text", "pass --output OUT"),
        ("-", Path("out"), "text", "not stdin"),
        ("in.csv", Path("out"), "csv", "drop --format"),
    ],
)
def test_mistakes_are_refused_before_ray(source, output, fmt, fragment):
    with pytest.raises(SenticlfError, match=fragment):
        RayJob.from_cli(source, output, fmt)


def test_ray_only_options_on_the_local_engine():
    refuse_on_local_engine(None, None, False)
    with pytest.raises(
        SenticlfError, match="^--address, --ship-bundle only apply with --engine ray$"
    ):
        refuse_on_local_engine("head:6379", None, True)


def test_the_options_module_does_not_import_ray():
    code = "import sys, senticlf.scale.options; assert 'ray' not in sys.modules"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

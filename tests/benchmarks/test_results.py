"""benchmarks.common.results and records: the one writer of results files and its tables."""

from __future__ import annotations

import json
import sys
import types
from datetime import datetime

import pytest

from benchmarks.common import records, results
from benchmarks.common.records import Column, Percentiles, Runs, Spread, Table, Timing


@pytest.fixture
def loads(monkeypatch):
    """os.getloadavg answering 1, 2, 3 the first time and 4, 5, 6 after."""
    readings = iter([(1.0, 2.0, 3.0), (4.0, 5.0, 6.0), (7.0, 8.0, 9.0)])
    monkeypatch.setattr(results.os, "getloadavg", lambda: next(readings))


def timings() -> list[Timing]:
    return [
        Timing("fp32", Runs.of([10.0, 14.0, 12.0]), batch=8),
        Timing("int8", Runs.of([20.0]), batch=8, latency=Percentiles(5.0, 6.0, 7.0)),
    ]


def test_a_result_carries_command_machine_load_and_date_in_both_files(tmp_path, loads):
    with results.load_window() as load:
        rows = timings()
    text = results.write(
        "demo", {"rows": rows, "threads": 2}, ["Two models.", Table(rows, records.TIMING_COLUMNS)],
        title="Demo", load=load, folder=tmp_path / "new", command="python -m benchmarks.demo --x 1",
    )  # fmt: skip
    stored = json.loads((tmp_path / "new" / "demo.json").read_text())
    assert stored["command"] == "python -m benchmarks.demo --x 1"
    assert stored["load"] == {"before": [1.0, 2.0, 3.0], "after": [4.0, 5.0, 6.0]}
    assert {"cpu", "cores", "instruction_sets", "versions"} <= set(stored["machine"])
    assert "numpy" in stored["machine"]["versions"]
    assert datetime.fromisoformat(stored["date"]).tzinfo is not None
    assert stored["threads"] == 2
    assert stored["rows"][0]["reviews_per_s"] == {"median": 12.0, "min": 10.0, "max": 14.0, "runs": [10.0, 14.0, 12.0]}  # fmt: skip
    assert (tmp_path / "new" / "demo.md").read_text() == text
    lines = text.splitlines()
    assert lines[0] == "# Demo"
    assert lines[2].startswith("Machine: ") and "numpy" in lines[2]
    assert "Command: `python -m benchmarks.demo --x 1`" in lines
    assert "before: 1.00, 2.00, 3.00; after: 4.00, 5.00, 6.00" in text
    assert lines.index("Two models.") < lines.index("| fp32 | 8 | 12.0 (10.0-14.0) | 3 | - |")


def test_a_result_written_while_the_window_is_open_reads_the_load_at_writing(tmp_path, loads):
    window = results.LoadWindow()
    results.write("partial", {}, [], title="Partial", load=window, folder=tmp_path)
    window.close()
    results.write("final", {}, [], title="Final", load=window, folder=tmp_path)
    partial = json.loads((tmp_path / "partial.json").read_text())["load"]
    final = json.loads((tmp_path / "final.json").read_text())["load"]
    assert partial == {"before": [1.0, 2.0, 3.0], "after": [4.0, 5.0, 6.0]}
    assert final == {"before": [1.0, 2.0, 3.0], "after": [7.0, 8.0, 9.0]}
    stored = results.Load.from_dict(final)  # as a command reads a load it kept
    assert str(stored.after) == "7.00, 8.00, 9.00"


def test_a_result_that_cannot_be_written_leaves_the_previous_one_whole(tmp_path, loads):
    load = results.Load(results.LoadAverage(1, 1, 1), results.LoadAverage(2, 2, 2))
    results.write("r", {"value": 1}, ["first"], title="R", load=load, folder=tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(TypeError, match="cannot write object"):
        results.write("r", {"value": object()}, ["second"], title="R", load=load, folder=tmp_path)
    with pytest.raises(ValueError, match="header"):
        results.write("r", {"machine": "mine"}, ["third"], title="R", load=load, folder=tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no temp file left


def test_figures_are_drawn_beside_the_result_and_named_in_its_header(tmp_path, loads):
    load = results.Load(results.LoadAverage(1, 1, 1), results.LoadAverage(2, 2, 2))

    def draw(path):
        path.write_bytes(b"\x89PNG")

    text = results.write(
        "plotted", {}, [], title="P", load=load, folder=tmp_path, figures={"plotted.png": draw}
    )
    assert (tmp_path / "plotted.png").read_bytes() == b"\x89PNG"
    assert json.loads((tmp_path / "plotted.json").read_text())["figures"] == ["plotted.png"]
    assert "Figures: `plotted.png`." in text


def test_the_command_line_is_the_module_and_its_arguments_quoted(monkeypatch):
    main = types.ModuleType("__main__")
    main.__spec__ = types.SimpleNamespace(name="benchmarks.speed")  # type: ignore[assignment]
    monkeypatch.setitem(sys.modules, "__main__", main)
    monkeypatch.setattr(sys, "argv", ["/x/benchmarks/speed.py", "--variants", "s8 per-tensor,fp32"])
    assert results.command_line() == "python -m benchmarks.speed --variants 's8 per-tensor,fp32'"


def test_a_table_renders_its_records_by_its_columns():
    rows = timings()
    table = Table(rows, records.TIMING_COLUMNS).markdown().splitlines()
    assert table[0] == "| name | batch | reviews/s, median (min-max) | runs | batch 1 median ms |"
    assert table[1] == "|---|---|---:|---:|---|"
    assert table[3] == "| int8 | 8 | 20.0 | 1 | 5.0 |"
    own = Table(rows, [Column("model", lambda t: t.name.upper())]).markdown()
    assert own.splitlines() == ["| model |", "|---|", "| FP32 |", "| INT8 |"]
    assert records.keyed(rows)["int8"]["batch"] == 8


def test_the_shared_records_keep_their_figures():
    runs = Runs.of([3, 1, 2])
    assert (runs.median, runs.low, runs.high) == (2, 1, 3)
    with pytest.raises(ValueError):
        Runs.of([])
    latency = Percentiles.of_seconds([0.001 * i for i in range(1, 101)])
    assert latency.median_ms == pytest.approx(50.5) and latency.p99_ms == pytest.approx(99.01)
    assert Percentiles.from_dict(latency.to_dict()) == latency
    spread = Spread.of([0.5, 0.7])
    assert spread.cell(2) == "0.60 ± 0.14" and spread.percent_cell(1) == "60.0% ± 14.1"
    assert Spread.of([0.5]).sd == 0.0

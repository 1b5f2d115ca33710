"""One local Ray (2 CPUs, no dashboard) for all of tests/scale: starting Ray costs seconds."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_reviews

ray = pytest.importorskip("ray", reason="the ray extra is not installed")

# A few blank texts among the reviews: they must keep their row, with no prediction.
BLANK_ROWS = (3, 150, 299)


@pytest.fixture(scope="package")
def local_ray() -> Iterator[None]:
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(
        num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False,
        _node_ip_address="127.0.0.1",
    )  # fmt: skip
    from ray.data import DataContext

    DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


@pytest.fixture(scope="package")
def review_table(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """300 toy reviews (3 of them blank) with an id column, as Parquet and JSONL."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    texts = [text for text, _ in make_reviews(300, seed=3)]
    for row in BLANK_ROWS:
        texts[row] = "   " if row % 2 else ""
    folder = tmp_path_factory.mktemp("ray-inputs")
    table = pa.table({"id": list(range(len(texts))), "review": texts})
    files = {"parquet": folder / "reviews.parquet", "jsonl": folder / "reviews.jsonl"}
    pq.write_table(table, files["parquet"], row_group_size=50)  # several blocks to spread
    with open(files["jsonl"], "w", encoding="utf-8") as handle:
        for row in table.to_pylist():
            handle.write(json.dumps(row) + "\n")
    return files

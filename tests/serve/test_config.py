"""Server settings are checked before anything loads, with the option named."""

from __future__ import annotations

import pytest

from senticlf.errors import SenticlfError
from senticlf.serve.config import ServeConfig


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"max_queue": -1}, "--max-queue must be at least 1"),
        ({"min_confidence": 1.5}, "--min-confidence must be in"),
        ({"max_inputs": 0}, "--max-inputs must be at least 1"),
        ({"max_wait_ms": -1}, "--max-wait-ms must be >= 0"),
        ({"port": 70000}, "--port must be between 0"),
        ({"model_name": "a/b"}, "--model-name must be letters"),
        ({"min_confidence": 0.0}, r"--min-confidence must be in \(0, 1\], got 0.0"),
        ({"min_confidence": 1.5}, r"--min-confidence must be in \(0, 1\]"),
        ({"model_name": ""}, "--model-name must be letters"),
    ],
)
def test_bad_settings_name_the_option(settings: dict, fragment: str) -> None:
    with pytest.raises(SenticlfError, match=fragment):
        ServeConfig(**settings)

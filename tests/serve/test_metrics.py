"""Metrics labels stay a fixed set whatever paths clients send."""

from __future__ import annotations

import pytest

from senticlf.serve.metrics import path_label


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("/predict", "/predict"),
        ("/classify", "/classify"),
        ("/v2/health/ready", "/v2/health/ready"),
        ("/v2/models/any-name", "/v2/models/{name}"),
        ("/v2/models/x/ready", "/v2/models/{name}/ready"),
        ("/v2/models/x/infer", "/v2/models/{name}/infer"),
        ("/v2/models/x/versions/1/infer", "other"),
        ("/v2/models/x/explain", "other"),
        ("/v2/models/", "other"),
        ("/wp-login.php", "other"),
    ],
)
def test_path_labels(path: str, label: str) -> None:
    assert path_label(path) == label

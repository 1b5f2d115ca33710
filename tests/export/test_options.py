"""ExportOptions: every setting checked when it is made, before any export work."""

import pytest

from senticlf.errors import SenticlfError
from senticlf.export.options import ExportOptions


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"preset": "avx9000"}, "--preset must be one of"),
        ({"max_accuracy_drop": -1}, "--max-accuracy-drop must be >= 0"),
        ({"min_agreement": 1.5}, "--min-agreement must be in"),
    ],
)
def test_bad_export_options_fail_before_any_work(options, message):
    with pytest.raises(SenticlfError, match=message):
        ExportOptions(**options)

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


def test_the_gate_lets_exactly_one_point_through_and_refuses_one_review_more():
    """Accuracies are review counts over 200: 86.0% -> 85.0% is a drop of exactly 1 point,
    although (0.86 - 0.85) * 100 is 1.0000000000000009 in floating point."""
    gate = ExportOptions()  # at most 1 point lost, at least 98% agreement
    fp32 = 172 / 200
    assert (fp32 - 170 / 200) * 100 > 1.0  # the float trap the gate must not fall into
    assert gate.passes_gate(fp32, 170 / 200, agreement=196 / 200)  # exactly 1 point: passes
    assert not gate.passes_gate(fp32, 169 / 200, agreement=1.0)  # 1.5 points: refused
    assert not gate.passes_gate(fp32, 170 / 200, agreement=195 / 200)  # agreement just under
    strict = ExportOptions(max_accuracy_drop=0.5)
    assert strict.passes_gate(fp32, 171 / 200, 1.0) and not strict.passes_gate(fp32, 170 / 200, 1.0)
    # on 1,000 reviews, "just over" is one review: 1.1 points
    assert gate.passes_gate(0.9, 0.89, 1.0) and not gate.passes_gate(0.9, 0.889, 1.0)

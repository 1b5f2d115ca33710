from senticlf.export import speed


def test_a_warning_only_when_int8_is_not_faster():
    faster = {"fp32_reviews_per_s": 10.0, "int8_reviews_per_s": 15.0, "int8_speedup": 1.5}
    assert speed.not_faster_warning(faster) is None
    slower = {"fp32_reviews_per_s": 10.0, "int8_reviews_per_s": 9.0, "int8_speedup": 0.9}
    warning = speed.not_faster_warning(slower)
    assert warning and "not faster" in warning and "9.0 vs 10.0" in warning and "--fp32" in warning

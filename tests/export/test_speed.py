from senticlf import artifacts
from senticlf.export import speed


def manifest_with(int8_speed: float, fp32_speed: float) -> artifacts.Manifest:
    profiles = {
        artifacts.FP32_MODEL: artifacts.BatchProfile(
            8, 32, {8: 0.0, 32: 0.0}, {1: 9.0, 8: fp32_speed}
        ),
        artifacts.INT8_MODEL: artifacts.BatchProfile(1, 1, {8: 0.3}, {1: int8_speed}),
    }
    return artifacts.Manifest(
        max_length=64, truncation="head", base_model="m", files={},
        batching=artifacts.Batching("Test CPU", ("avx2",), profiles),
    )  # fmt: skip


def test_a_warning_only_when_int8_at_its_batch_is_not_faster_than_fp32_at_its_own():
    assert speed.not_faster_warning(manifest_with(15.0, 10.0)) is None
    warning = speed.not_faster_warning(manifest_with(9.0, 10.0))
    assert warning and "not faster" in warning and "9.0 vs 10.0" in warning and "--fp32" in warning


def test_the_report_names_each_model_batch_size_and_invariance():
    lines = speed.batching_lines(manifest_with(15.0, 10.0))
    assert lines[0].startswith("model.onnx: batch 8, 10.0 reviews/s; batch-invariant up to 32")
    assert "3.0e-01 at batch 8" in lines[1] and "batch-invariant up to 1" in lines[1]

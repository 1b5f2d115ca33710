import pytest

from senticlf import artifacts
from senticlf.errors import SenticlfError
from senticlf.runtime.session import CPU, create_session, default_providers


def test_unavailable_provider_warns_and_falls_back_to_cpu(bundle):
    with pytest.warns(UserWarning, match="TensorrtExecutionProvider is not available"):
        session = create_session(bundle / artifacts.FP32_MODEL, ["TensorrtExecutionProvider"])
    assert session.get_providers() == [CPU]


def test_threads_and_default_providers(bundle):
    session = create_session(bundle / artifacts.FP32_MODEL, threads=1)
    assert session.get_session_options().intra_op_num_threads == 1
    assert default_providers()[-1] == CPU


def test_a_file_that_is_not_onnx_is_a_clear_error(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"not a model")
    with pytest.raises(SenticlfError, match="cannot load ONNX model"):
        create_session(path)

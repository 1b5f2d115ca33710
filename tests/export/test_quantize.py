import pytest

from senticlf.errors import SenticlfError
from senticlf.export import quantize
from senticlf.export.options import PRESETS


@pytest.mark.parametrize("preset", PRESETS)
def test_every_ladder_step_builds_a_config_for_every_preset(preset):
    for name, overrides in quantize.LADDER:
        config = quantize.quantization_config(preset, overrides)
        assert config.is_static is False, name
        for key, value in overrides.items():
            got = getattr(config, key)
            assert (list(got) if key == "operators_to_quantize" else got) == value


def test_unknown_preset_is_a_clear_error():
    with pytest.raises(SenticlfError, match="unknown quantization preset 'avx9000'"):
        quantize.quantization_config("avx9000", {})

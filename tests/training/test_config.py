import pytest

from senticlf.errors import SenticlfError
from senticlf.training.config import TrainConfig


def test_defaults_are_the_reference_data_with_the_measured_recipe():
    config = TrainConfig()
    assert (config.train_size, config.val_size) == (1000, 200)
    assert (config.batch_size, config.weight_decay, config.max_length) == (16, 0.01, 512)
    assert config.base_model == "distilbert-base-uncased"
    # benchmarks/results/accuracy.md: +2 points over lr 2e-5 / no warm-up / head, 3 seeds
    assert (config.learning_rate, config.warmup_ratio, config.truncation) == (
        5e-5,
        0.1,
        "head+tail",
    )


def test_cli_defaults_are_the_config_defaults():
    import inspect

    from senticlf.cli import train

    params = inspect.signature(train).parameters
    config = TrainConfig()
    assert params["lr"].default == config.learning_rate
    assert params["truncation"].default == config.truncation
    assert params["warmup_ratio"].default == config.warmup_ratio
    assert params["epochs"].default == config.epochs
    assert (params["train_size"].default, params["val_size"].default) == (
        config.train_size,
        config.val_size,
    )


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("epochs", 0, "--epochs must be at least 1, got 0"),
        ("batch_size", -4, "--batch-size must be at least 1, got -4"),
        ("learning_rate", 0.0, "--lr must be in (0, 1), got 0.0"),
        ("max_length", 4, "--max-length must be between 8 and 8192, got 4"),
        ("truncation", "middle", "--truncation must be one of head, head+tail"),
        ("train_size", 1, "--train-size must be at least 2"),
        ("dropout", 1.5, "--dropout must be in [0, 1)"),
        ("device", "tpu", "--device must be auto, cpu or cuda"),
    ],
)
def test_bad_values_are_named_in_the_error(field, value, fragment):
    with pytest.raises(SenticlfError) as info:
        TrainConfig(**{field: value})
    assert fragment in str(info.value)


def test_round_trip_through_the_run_folder(tmp_path):
    config = TrainConfig(epochs=3, truncation="head+tail", dropout=0.2)
    config.save(tmp_path)
    assert TrainConfig.load(tmp_path) == config

"""curves.png, checked through matplotlib's objects (ticks, lines), not its pixels."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from senticlf.training.report import curves_figure, plot_curves  # noqa: E402


def epoch_rows(count: int) -> list[dict]:
    return [
        {
            "epoch": epoch,
            "train_loss": 1 / epoch,
            "val_loss": 0.5 + abs(epoch - 2) / 10,
            "train_accuracy": 0.6 + epoch / 20,
            "val_accuracy": 0.8 - abs(epoch - 2) / 20,
        }
        for epoch in range(1, count + 1)
    ]


@pytest.mark.parametrize("count", [1, 3, 7])
def test_the_curves_tick_whole_epochs_and_mark_the_kept_one(count):
    best = min(2, count)
    figure = curves_figure(epoch_rows(count), best_epoch=best)
    try:
        for axis in figure.axes:
            low, high = axis.get_xlim()
            ticks = [t for t in axis.get_xticks() if low <= t <= high]
            assert ticks and all(float(t).is_integer() for t in ticks), ticks
            if count <= 5:  # few epochs: each has its tick
                assert ticks == list(range(1, count + 1))
            marks = [line for line in axis.get_lines() if line.get_label().startswith("kept")]
            assert len(marks) == 1 and list(marks[0].get_xdata()) == [best, best]
            assert f"kept (epoch {best})" in [t.get_text() for t in axis.get_legend().get_texts()]
    finally:
        plt.close(figure)


def test_plot_curves_writes_a_png(tmp_path):
    path = tmp_path / "curves.png"
    plot_curves(epoch_rows(3), path, best_epoch=2)
    assert path.read_bytes().startswith(b"\x89PNG")

"""benchmarks.distill_frontier's plan and choices on made-up results: no teacher, no training."""

import json
from dataclasses import asdict

from benchmarks import distill_frontier as frontier


def setting(**changes):
    return frontier.Setting(teacher="t", data="d", layers=(6, 2), **changes)


def results(val: dict[str, float], **changes):
    s = setting(**changes)
    return {
        "setting": asdict(s),
        "students": frontier.students(s),
        "models": {name: {"val_accuracy": v} for name, v in val.items()},
    }


def test_every_depth_is_distilled_and_controlled_and_the_search_is_on_the_smallest():
    plan = {s["name"]: s for s in frontier.students(setting(searched_epochs=(2, 3)))}
    both = frontier.students(setting(searched_epochs=(2,), searched_layers=(6, 2)))
    assert {"6L-distil-2ep", "2L-distil-2ep"} <= {s["name"] for s in both}
    assert set(plan) == {
        "6L-distil", "6L-hard", "2L-distil", "2L-hard", "2L-distil-2ep", "2L-distil-3ep"
    }  # fmt: skip
    assert plan["2L-hard"]["alpha"] == 0.0 and not plan["2L-hard"]["transfer"]
    assert plan["2L-distil-3ep"] == {
        "name": "2L-distil-3ep", "layers": 2, "alpha": 0.5, "epochs": 3, "transfer": True
    }  # fmt: skip


def test_validation_chooses_the_epochs_and_a_tie_goes_to_fewer():
    base = {"6L-distil": 0.9, "6L-hard": 0.9, "2L-hard": 0.99}
    better = results({**base, "2L-distil": 0.82, "2L-distil-2ep": 0.85}, searched_epochs=(2,))
    assert frontier.chosen_on_validation(better) == {2: "2L-distil-2ep"}
    tied = results({**base, "2L-distil": 0.85, "2L-distil-2ep": 0.85}, searched_epochs=(2,))
    assert frontier.chosen_on_validation(tied) == {2: "2L-distil"}
    assert frontier.chosen_on_validation(results({**base, "2L-distil": 0.8})) == {}
    both = results(
        {**base, "2L-distil": 0.8, "2L-distil-2ep": 0.85, "6L-distil-2ep": 0.8},
        searched_epochs=(2,), searched_layers=(6, 2),
    )  # fmt: skip
    assert frontier.chosen_on_validation(both) == {6: "6L-distil", 2: "2L-distil-2ep"}


def test_a_model_added_after_the_timing_makes_every_model_timed_again(tmp_path):
    speed = tmp_path / "speed.json"
    assert not frontier.timed_all(speed, {"teacher": tmp_path})
    speed.write_text(json.dumps({"models": {"teacher int8": {}, "2L-distil int8": {}}}))
    assert frontier.timed_all(speed, {"teacher": tmp_path, "2L-distil": tmp_path})
    assert not frontier.timed_all(speed, {"teacher": tmp_path, "2L-distil-2ep": tmp_path})

"""Splitting a batch into ONNX calls: batch where it pays, keep rows in order."""

from __future__ import annotations

import numpy as np

from senticlf.serve.planner import CallPlanner, run_planned


def test_where_batching_pays_similar_lengths_share_a_call() -> None:
    planner = CallPlanner((1.0, 0.6, 0.45, 0.4))
    assert planner.plan([100, 102, 98, 101]) == [[2, 0, 3, 1]]


def test_where_batching_barely_pays_padding_is_not_worth_it() -> None:
    planner = CallPlanner((1.0, 0.97, 0.95, 0.95))
    groups = planner.plan([50, 500, 51, 499])
    assert sorted(map(sorted, groups)) == [[0, 2], [1, 3]]  # short with short, long with long


def test_where_batching_costs_more_every_text_runs_alone() -> None:
    planner = CallPlanner((1.0, 1.1, 1.2))
    assert planner.plan([10, 10, 10]) == [[0], [1], [2]]


def test_calls_never_exceed_the_width_measured() -> None:
    planner = CallPlanner.fixed(3)
    groups = planner.plan([7] * 10)
    assert max(map(len, groups)) <= 3
    assert sorted(i for g in groups for i in g) == list(range(10))


def test_measure_reads_cost_per_token_relative_to_batch_1() -> None:
    def run(batch):  # a fixed cost per call plus a cost per text: batching pays a little
        return np.zeros((len(batch), 2))

    planner = CallPlanner.measure(run, 4)
    assert planner.max_width == 4 and planner.token_cost[0] == 1.0


def test_rows_come_back_in_input_order() -> None:
    ids = [[5] * 3, [6] * 9, [7] * 1, [8] * 4]
    out = run_planned(CallPlanner.fixed(2), ids, lambda b: np.array([[s[0]] for s in b]))
    assert out[:, 0].tolist() == [5, 6, 7, 8]

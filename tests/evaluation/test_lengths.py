import numpy as np

from senticlf.evaluation.lengths import accuracy_by_length, bucket_edges


def test_buckets_follow_the_model_max_length():
    assert bucket_edges(512) == [128, 256, 512]
    assert bucket_edges(64) == [16, 32, 64]


def test_accuracy_per_bucket_and_the_truncated_one():
    lengths = [10, 128, 129, 300, 513, 900]
    correct = np.array([1, 0, 1, 1, 0, 0], dtype=bool)
    rows = accuracy_by_length(lengths, correct, max_length=512)
    assert [r["tokens"] for r in rows] == ["1-128", "129-256", "257-512", ">512"]
    assert [r["reviews"] for r in rows] == [2, 1, 1, 2]
    assert [r["accuracy"] for r in rows] == [0.5, 1.0, 1.0, 0.0]
    assert [r["truncated"] for r in rows] == [False, False, False, True]


def test_an_empty_bucket_has_no_accuracy():
    rows = accuracy_by_length([5], np.array([True]), max_length=512)
    assert rows[0]["accuracy"] == 1.0 and rows[3] == {
        "tokens": ">512", "truncated": True, "reviews": 0, "accuracy": None,
    }  # fmt: skip

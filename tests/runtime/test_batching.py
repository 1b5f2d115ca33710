import numpy as np
import pytest

from senticlf.runtime.batching import length_sorted_batches, run_length_sorted


def test_batches_are_sorted_by_length_and_cover_every_index_once():
    lengths = [5, 1, 9, 3, 3, 7, 2]
    batches = list(length_sorted_batches(lengths, 3))
    assert [len(b) for b in batches] == [3, 3, 1]
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths)


def test_results_come_back_in_input_order_whatever_the_batch_size():
    ids = [[7] * n for n in (4, 1, 6, 2, 2, 5)]
    seen_widths = []

    def run(batch):
        seen_widths.append({len(seq) for seq in batch})
        return np.array([[len(seq), seq[0]] for seq in batch], dtype=np.float32)

    for batch_size in (1, 2, 4, 100):
        out = run_length_sorted(ids, batch_size, run)
        assert out[:, 0].tolist() == [4, 1, 6, 2, 2, 5]
    assert {2} in seen_widths  # the two 2-token sequences shared a batch


def test_nothing_to_run_and_bad_batch_size_are_errors():
    with pytest.raises(ValueError, match="nothing to run"):
        run_length_sorted([], 8, lambda batch: np.zeros((len(batch), 2)))
    with pytest.raises(ValueError, match="at least 1"):
        list(length_sorted_batches([1, 2], 0))


def test_token_budget_batches_bound_padded_tokens_and_texts():
    from senticlf.runtime.batching import token_budget_batches

    lengths = [5, 300, 12, 12, 40, 700, 8, 100] * 5
    batches = list(token_budget_batches(lengths, max_tokens=600, max_texts=6))
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        widths = [lengths[i] for i in batch]
        assert widths == sorted(widths) and len(batch) <= 6
        assert len(batch) * max(widths) <= 600 or len(batch) == 1  # a 700-token text alone
    assert any(len(b) == 6 for b in batches) and any(len(b) == 1 for b in batches)
    flat = [i for b in batches for i in b]
    assert [lengths[i] for i in flat] == sorted(lengths)
    with pytest.raises(ValueError):
        next(token_budget_batches([1], 0, 1))

from senticlf.evaluation.error_analysis import count_groups, error_groups


def test_each_group_has_its_cue():
    assert "truncated" in error_groups("long", n_tokens=900, max_length=512)
    assert "mixed sentiment" in error_groups("Great acting but a boring plot.", 10, 512)
    assert "negation" in error_groups("It was not good at all.", 10, 512)
    assert "irony" in error_groups('Oh sure, a "masterpiece". Yeah right.', 10, 512)
    assert error_groups("A film about a man.", 10, 512) == ["none of these"]


def test_counts_cover_every_group():
    counts = count_groups(["not bad", "a film"], [5, 600], max_length=512)
    assert counts["negation"] == 1 and counts["truncated"] == 1 and counts["none of these"] == 0
    assert set(counts) == {"truncated", "mixed sentiment", "negation", "irony", "none of these"}

import pytest
from tokenizers import Tokenizer

from senticlf.artifacts import EncoderSettings
from senticlf.errors import SenticlfError
from senticlf.runtime.tokenize import ReviewEncoder, normalize


@pytest.fixture(scope="module")
def tokenizer(tiny_base_model):
    return lambda: Tokenizer.from_file(str(tiny_base_model / "tokenizer.json"))


def words(n):
    return " ".join(["great"] * (n // 2) + ["awful"] * (n - n // 2))


def test_special_tokens_are_read_from_the_tokenizer(tokenizer):
    encoder = ReviewEncoder(tokenizer(), 16, "head")
    cls_id, sep_id = encoder.tokenizer.token_to_id("[CLS]"), encoder.tokenizer.token_to_id("[SEP]")
    assert (encoder.prefix, encoder.suffix) == ([cls_id], [sep_id])
    assert encoder.encode([""]) == [[cls_id, sep_id]]


def test_head_keeps_the_start_and_head_tail_keeps_the_end(tokenizer):
    great, awful = (tokenizer().token_to_id(w) for w in ("great", "awful"))
    head = ReviewEncoder(tokenizer(), 34, "head").encode([words(100)])[0]
    head_tail = ReviewEncoder(tokenizer(), 34, "head+tail").encode([words(100)])[0]
    assert len(head) == len(head_tail) == 34
    assert set(head[1:-1]) == {great}  # the first 32 of 100 words are all "great"
    assert head_tail[1:9] == [great] * 8 and head_tail[9:-1] == [awful] * 24  # 1/4 head, 3/4 tail


def test_short_reviews_are_not_touched(tokenizer):
    for truncation in ("head", "head+tail"):
        assert len(ReviewEncoder(tokenizer(), 64, truncation).encode([words(10)])[0]) == 12


def test_padding_is_dynamic_and_masked(tokenizer):
    encoder = ReviewEncoder(tokenizer(), 64, "head")
    ids, mask = encoder.pad(encoder.encode([words(3), words(7)]))
    assert ids.shape == (2, 9) and ids.dtype.name == "int64"
    assert mask.sum(axis=1).tolist() == [5, 9] and ids[0, 5:].tolist() == [encoder.pad_id] * 4


def test_html_breaks_and_bom_are_dropped():
    assert normalize("\ufeffGood.<br /><br />Great") == "Good.  Great"


def test_bad_settings_are_clear_errors(tokenizer, tmp_path):
    with pytest.raises(SenticlfError, match="truncation"):
        ReviewEncoder(tokenizer(), 64, "middle")
    with pytest.raises(SenticlfError, match="no room"):
        ReviewEncoder(tokenizer(), 2, "head")
    (tmp_path / "tokenizer.json").write_text("{broken")
    with pytest.raises(SenticlfError, match="cannot read tokenizer"):
        ReviewEncoder.load(EncoderSettings(tmp_path / "tokenizer.json", 64, "head"))


def test_lone_surrogates_become_replacement_characters_and_pairs_survive():
    from senticlf.runtime.tokenize import normalize

    assert normalize("\ud800 film") == "\ufffd film"
    assert normalize("ok \udfff") == "ok \ufffd"
    assert normalize("\ud83d\ude00 fun") == "\U0001f600 fun"  # a well-formed pair is one character
    assert normalize("plain text") == "plain text"

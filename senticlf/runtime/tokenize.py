"""Turn review text into model inputs, identically at training and at prediction time.

Training and the ONNX predictor both call :class:`ReviewEncoder`, built on the `tokenizers`
library alone, so the truncation a model was trained with is the truncation it is served
with: a long review keeps the same head (and tail) tokens on both sides.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from senticlf import artifacts
from senticlf.errors import SenticlfError, first_line

# IMDb reviews carry HTML line breaks; they are noise to a WordPiece vocabulary.
_HTML_BREAKS = ("<br />", "<br/>", "<br>")

# Sun et al. (2019), "How to Fine-Tune BERT for Text Classification": for long reviews the
# first 128 and last 382 tokens beat the head alone. We keep that quarter/three-quarter split.
_HEAD_SHARE_OF_HEAD_TAIL = 128 / 510


def normalize(text: str) -> str:
    """Strip what carries no sentiment and would otherwise eat the token budget.

    A Python ``str`` can hold lone surrogates (``"\\ud800"``, e.g. from ``json.loads`` of a
    hostile request or a file decoded with ``surrogateescape``) that no UTF-8 tokenizer accepts;
    each becomes U+FFFD, the replacement character, as a decoder would have produced.
    """
    text = replace_lone_surrogates(text)
    for tag in _HTML_BREAKS:
        text = text.replace(tag, " ")
    return text.replace("\ufeff", "")


def replace_lone_surrogates(text: str) -> str:
    """``text`` with every unpaired surrogate code point replaced by U+FFFD (a no-op otherwise)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # UTF-16 round trip: well-formed pairs join into their character, lone halves are replaced.
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


class ReviewEncoder:
    """A tokenizer plus the truncation rule a model was trained with."""

    def __init__(self, tokenizer: Tokenizer, max_length: int, truncation: str = "head") -> None:
        artifacts.check_truncation(truncation, option="truncation")
        self.tokenizer = tokenizer
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.prefix, self.suffix = _special_tokens(tokenizer)
        budget = max_length - len(self.prefix) - len(self.suffix)
        if budget < 1:
            raise SenticlfError(f"max length {max_length} leaves no room for text tokens")
        self.max_length = max_length
        self.truncation = truncation
        self.budget = budget
        self.pad_id = _pad_id(tokenizer)

    @classmethod
    def load(cls, settings: artifacts.EncoderSettings) -> ReviewEncoder:
        path = settings.tokenizer_file
        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises a bare Exception on bad JSON
            raise SenticlfError(f"cannot read tokenizer {path}: {first_line(exc)}") from None
        return cls(tokenizer, settings.max_length, settings.truncation)

    @classmethod
    def for_bundle(cls, bundle_dir: Path, manifest: artifacts.Manifest) -> ReviewEncoder:
        return cls.load(manifest.encoder_settings(bundle_dir))

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids with special tokens, cut to ``max_length`` by the model's truncation rule."""
        cleaned = [normalize(text) for text in texts]
        encodings = self.tokenizer.encode_batch(cleaned, add_special_tokens=False)
        return [self.prefix + self._cut(enc.ids) + self.suffix for enc in encodings]

    def untruncated_lengths(self, texts: Sequence[str]) -> list[int]:
        """Token counts before truncation: tells which reviews the model saw only in part."""
        extra = len(self.prefix) + len(self.suffix)
        encodings = self.tokenizer.encode_batch(
            [normalize(t) for t in texts], add_special_tokens=False
        )
        return [len(enc.ids) + extra for enc in encodings]

    def _cut(self, ids: list[int]) -> list[int]:
        if len(ids) <= self.budget:
            return ids
        if self.truncation == "head":
            return ids[: self.budget]
        head = round(self.budget * _HEAD_SHARE_OF_HEAD_TAIL)
        tail = self.budget - head
        return ids[:head] + ids[len(ids) - tail :]

    def pad(self, batch: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
        """Pad to the longest sequence in the batch (dynamic padding), as int64 for ONNX."""
        return pad_batch(batch, self.pad_id)


def pad_batch(batch: Sequence[Sequence[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Input ids and attention mask of ``batch``, padded to its longest sequence."""
    width = max(len(ids) for ids in batch)
    input_ids = np.full((len(batch), width), pad_id, dtype=np.int64)
    attention_mask = np.zeros((len(batch), width), dtype=np.int64)
    for row, ids in enumerate(batch):
        input_ids[row, : len(ids)] = ids
        attention_mask[row, : len(ids)] = 1
    return input_ids, attention_mask


def _special_tokens(tokenizer: Tokenizer) -> tuple[list[int], list[int]]:
    """Find the ids the post-processor wraps around a text ([CLS] ... [SEP] for BERT).

    Read from the tokenizer itself rather than hard-coded, so RoBERTa-style ``<s> ... </s>``
    works too.
    """
    probe = "hello"
    bare = tokenizer.encode(probe, add_special_tokens=False).ids
    full = tokenizer.encode(probe, add_special_tokens=True).ids
    for start in range(len(full) - len(bare) + 1):
        if full[start : start + len(bare)] == bare:
            return full[:start], full[start + len(bare) :]
    return [], []


def _pad_id(tokenizer: Tokenizer) -> int:
    for token in ("[PAD]", "<pad>"):
        token_id = tokenizer.token_to_id(token)
        if token_id is not None:
            return token_id
    return 0

"""A tiny run folder and bundle for ``benchmarks.engines --smoke``: the pipeline end to end in
minutes, offline. Built like tests/conftest.py's tiny DistilBERT (and a BERT twin with a pooler,
the stand-in's head), on the same toy reviews; the numbers it gives mean nothing."""

from __future__ import annotations

import csv
from pathlib import Path

from benchmarks.common import internals
from senticlf import artifacts
from tests.conftest import build_tokenizer_json, make_reviews

VAL_REVIEWS, TRAIN_REVIEWS, TEST_REVIEWS = 40, 24, 48
TEST_CSV = "test.csv"  # the --extra file of a smoke run


def tiny_model(folder: Path, shape: str) -> Path:
    """A randomly initialised 2-layer encoder: BERT (pooler, token types) or DistilBERT."""
    import torch
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        DistilBertConfig,
        DistilBertForSequenceClassification,
        PreTrainedTokenizerFast,
    )

    folder.mkdir(parents=True)
    build_tokenizer_json(folder / "tokenizer.json")
    inputs = ["input_ids", "attention_mask"] + (["token_type_ids"] if shape != "distilbert" else [])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_file=str(folder / "tokenizer.json"),
        unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", model_max_length=128, model_input_names=inputs,
    )  # fmt: skip
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    vocab = tokenizer.backend_tokenizer.get_vocab_size()
    labels = {"id2label": dict(enumerate(artifacts.LABELS)), "label2id": {n: i for i, n in enumerate(artifacts.LABELS)}}  # fmt: skip
    if shape == "distilbert":
        config = DistilBertConfig(
            vocab_size=vocab, dim=32, hidden_dim=64, n_layers=2, n_heads=2,
            max_position_embeddings=128, num_labels=2, **labels,
        )  # fmt: skip
        DistilBertForSequenceClassification(config).eval().save_pretrained(folder)
    else:
        config = BertConfig(
            vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=2, max_position_embeddings=128, num_labels=2, **labels,
        )  # fmt: skip
        BertForSequenceClassification(config).eval().save_pretrained(folder)
    return folder


def write_reviews(path: Path, rows: list[tuple[str, int]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


def tiny_run(folder: Path, shape: str) -> tuple[Path, Path, Path, Path]:
    """(model dir, bundle with fused fp32 + dynamic INT8, val.csv, train.csv); test.csv beside."""
    model_dir = tiny_model(folder / artifacts.RUN_MODEL_DIR, shape)
    val = write_reviews(folder / artifacts.RUN_VAL_CSV, make_reviews(VAL_REVIEWS, seed=2))
    train = write_reviews(folder / artifacts.RUN_TRAIN_CSV, make_reviews(TRAIN_REVIEWS, seed=1))
    write_reviews(folder / TEST_CSV, make_reviews(TEST_REVIEWS, seed=3))
    bundle = folder / "bundle"
    bundle.mkdir()
    fp32 = internals.fp32_onnx(model_dir, bundle)
    internals.int8_onnx(fp32, bundle / artifacts.INT8_MODEL)
    files = [artifacts.FP32_MODEL, artifacts.INT8_MODEL, artifacts.TOKENIZER]
    artifacts.Manifest(
        max_length=64,
        truncation="head",
        base_model=f"tiny random {shape}",
        files=artifacts.hash_files(bundle, files),
    ).write(bundle)  # only the encoder settings are read: no export check was run
    return model_dir, bundle, val, train

"""Shared fixtures: a tiny DistilBERT and tokenizer built here, toy reviews written here.

Everything is made under ``tmp_path_factory`` once per session, offline, in seconds. The toy
task is learnable (sentiment words decide the label) so training tests can demand that the
loss falls and accuracy rises, not merely that code runs.
"""

from __future__ import annotations

import csv
import json
import random
import tarfile
from pathlib import Path

import pytest

POSITIVE_WORDS = [
    "great",
    "wonderful",
    "superb",
    "loved",
    "brilliant",
    "moving",
    "excellent",
    "fun",
]
NEGATIVE_WORDS = ["awful", "boring", "terrible", "hated", "dull", "waste", "poor", "stupid"]
FILLER = [
    "the",
    "film",
    "movie",
    "plot",
    "actors",
    "story",
    "was",
    "and",
    "a",
    "it",
    "this",
    "of",
    "scenes",
    "director",
    "music",
    "ending",
]
SHARED = Path(__file__).resolve().parents[2] / "shared"


def make_reviews(n: int, seed: int) -> list[tuple[str, int]]:
    """Reviews whose label is decided by their sentiment words, lengths 5 to 60 words."""
    rng = random.Random(seed)
    reviews = []
    for i in range(n):
        label = i % 2
        words = POSITIVE_WORDS if label else NEGATIVE_WORDS
        length = rng.randint(5, 60)
        body = [rng.choice(FILLER) for _ in range(length)]
        for _ in range(rng.randint(2, 4)):
            body.insert(rng.randrange(len(body)), rng.choice(words))
        reviews.append((" ".join(body).capitalize() + ".", label))
    rng.shuffle(reviews)
    return reviews


def build_tokenizer_json(path: Path) -> None:
    """A WordPiece tokenizer with BERT's special tokens and [CLS] $A [SEP] template."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    letters = list("abcdefghijklmnopqrstuvwxyz0123456789")
    words = sorted(set(POSITIVE_WORDS + NEGATIVE_WORDS + FILLER))
    tokens = specials + words + letters + ["##" + c for c in letters] + list(".,!?'\"<>/-")
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(tokens))}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tokenizer.save(str(path))


@pytest.fixture(scope="session")
def tiny_base_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer DistilBERT (dim 32) saved like a hub checkpoint."""
    return build_tiny_base_model(tmp_path_factory.mktemp("tiny-distilbert"))


def build_tiny_base_model(folder: Path) -> Path:
    """The tiny DistilBERT, written into ``folder`` (also used by .ci/tiny_bundle.py)."""
    import torch
    from transformers import (
        DistilBertConfig,
        DistilBertForSequenceClassification,
        PreTrainedTokenizerFast,
    )

    folder.mkdir(parents=True, exist_ok=True)
    build_tokenizer_json(folder / "tokenizer.json")
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_file=str(folder / "tokenizer.json"),
        unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", model_max_length=128, model_input_names=["input_ids", "attention_mask"],
    )  # fmt: skip
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = DistilBertConfig(
        vocab_size=tokenizer.backend_tokenizer.get_vocab_size(), dim=32, hidden_dim=64,
        n_layers=2, n_heads=2, max_position_embeddings=128, num_labels=2,
    )  # fmt: skip
    DistilBertForSequenceClassification(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def review_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same toy reviews as CSV, JSONL, an aclImdb folder and its .tar.gz."""
    folder = tmp_path_factory.mktemp("reviews")
    train, test = make_reviews(160, seed=1), make_reviews(48, seed=2)
    files = {
        "csv": folder / "train.csv",
        "eval_csv": folder / "test.csv",
        "jsonl": folder / "train.jsonl",
    }
    for path, rows in ((files["csv"], train), (files["eval_csv"], test)):
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows(rows)
    with open(files["jsonl"], "w", encoding="utf-8") as handle:
        for text, label in train:
            handle.write(json.dumps({"text": text, "label": "pos" if label else "neg"}) + "\n")
    acl = folder / "aclImdb"
    for split, rows in (("train", train), ("test", test)):
        for i, (text, label) in enumerate(rows):
            sub = acl / split / ("pos" if label else "neg")
            sub.mkdir(parents=True, exist_ok=True)
            (sub / f"{i}_{8 if label else 2}.txt").write_text(text, encoding="utf-8")
    unsup = acl / "train" / "unsup"
    unsup.mkdir()
    (unsup / "0_0.txt").write_text("an unlabelled review", encoding="utf-8")
    files["aclimdb"] = acl
    files["tar"] = folder / "aclImdb_v1.tar.gz"
    with tarfile.open(files["tar"], "w:gz") as archive:
        archive.add(acl, arcname="aclImdb")
    return files


@pytest.fixture(scope="session")
def trained_run(
    tmp_path_factory: pytest.TempPathFactory, tiny_base_model: Path, review_files
) -> Path:
    """A finished run of the tiny model on the toy CSV: 6 epochs, a few seconds on a CPU."""
    from rich.console import Console

    from senticlf.training.trainer import train

    run_dir = tmp_path_factory.mktemp("runs") / "toy"
    config = tiny_config(review_files, tiny_base_model)
    train(config, run_dir, console=Console(quiet=True))
    return run_dir


def tiny_config(review_files, base_model: Path, **overrides):
    from senticlf.training.config import TrainConfig

    settings = dict(
        data=str(review_files["csv"]), eval_data=str(review_files["eval_csv"]),
        base_model=str(base_model), train_size=None, val_size=None, epochs=6,
        learning_rate=3e-3, batch_size=16, max_length=64, device="cpu", seed=0,
    )  # fmt: skip
    settings.update(overrides)
    return TrainConfig(**settings)


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory, trained_run: Path) -> Path:
    """The trained toy run exported to fp32 + INT8 ONNX."""
    from rich.console import Console

    from senticlf.export.bundle import export_run
    from senticlf.export.options import ExportOptions

    output = tmp_path_factory.mktemp("bundles") / "toy"
    # one round of fresh-process plan timings: the path export takes by default, kept short
    options = ExportOptions(quantize=True, plan_runs=1)
    export_run(trained_run, output, options, Console(quiet=True))
    return output


@pytest.fixture(scope="session")
def fp16_bundle(tmp_path_factory: pytest.TempPathFactory, trained_run: Path) -> Path:
    """The toy run exported with INT8 and fp16 beside fp32 (fp16 checked on the CPU provider
    when no GPU is present)."""
    from rich.console import Console

    from senticlf.export.bundle import export_run
    from senticlf.export.options import ExportOptions

    output = tmp_path_factory.mktemp("bundles") / "toy-fp16"
    options = ExportOptions(quantize=True, fp16=True, plan_runs=0)
    export_run(trained_run, output, options, Console(quiet=True))
    return output

"""The pretrained encoder and its tokenizer, loaded safely or refused with a reason.

Hub ids work for users with network access; offline, a local folder must hold config.json,
safetensors weights and the tokenizer. Weights load from safetensors only (never a pickle).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

from senticlf import artifacts
from senticlf.errors import SenticlfError, first_line
from senticlf.runtime.tokenize import ReviewEncoder
from senticlf.training.config import TrainConfig

_DROPOUT_FIELDS = (
    "dropout",  # DistilBERT
    "seq_classif_dropout",  # DistilBERT head
    "hidden_dropout_prob",  # BERT
    "attention_probs_dropout_prob",  # BERT
    "classifier_dropout",  # BERT head
)


def check_local_model(base_model: str) -> None:
    """A local folder must hold a model we can load safely; say what is missing."""
    folder = Path(base_model)
    if not folder.exists():
        return  # a hub id: transformers resolves it
    if not folder.is_dir():
        raise SenticlfError(f"--base-model {folder} is a file; expected a model folder or hub id")
    if not (folder / "config.json").is_file():
        raise SenticlfError(f"cannot load base model {folder}: no config.json, not a model folder")
    if not any(folder.glob("*.safetensors")) and not any(folder.glob("*.safetensors.index.json")):
        raise SenticlfError(
            f"cannot load base model {folder}: no {artifacts.WEIGHTS} (senticlf loads "
            "safetensors only, never pickled .bin weights)"
        )


def load_tokenizer(config: TrainConfig) -> tuple[Any, ReviewEncoder]:
    """The transformers tokenizer (saved into model/) and the runtime encoder built on it."""
    check_local_model(config.base_model)
    try:
        tokenizer = AutoTokenizer.from_pretrained(config.base_model, use_fast=True)
    except (OSError, ValueError) as exc:
        raise SenticlfError(base_model_error(config.base_model, exc)) from None
    limit = getattr(tokenizer, "model_max_length", None) or 10**9
    if config.max_length > limit:
        raise SenticlfError(
            f"--max-length {config.max_length} exceeds {config.base_model}'s limit of {limit}"
        )
    encoder = ReviewEncoder(tokenizer.backend_tokenizer, config.max_length, config.truncation)
    return tokenizer, encoder


def load_model(config: TrainConfig, labels: tuple[str, ...] = artifacts.LABELS) -> Any:
    """The encoder with a fresh classification head over ``labels``, in fp32."""
    try:
        model_config = AutoConfig.from_pretrained(
            config.base_model,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
        )
    except (OSError, ValueError) as exc:
        raise SenticlfError(base_model_error(config.base_model, exc)) from None
    limit = getattr(model_config, "max_position_embeddings", None)
    if limit and config.max_length > limit:
        raise SenticlfError(
            f"--max-length {config.max_length} exceeds {config.base_model}'s limit of {limit}"
        )
    if config.dropout is not None:
        for name in _DROPOUT_FIELDS:
            if getattr(model_config, name, None) is not None or name == "classifier_dropout":
                setattr(model_config, name, config.dropout)
    try:
        return AutoModelForSequenceClassification.from_pretrained(
            # fp32 master weights whatever the checkpoint stores (transformers 5 loads "auto");
            # mixed precision on the GPU comes from autocast, not from half-precision weights.
            config.base_model,
            config=model_config,
            use_safetensors=True,
            dtype=torch.float32,
            # a checkpoint whose head has another label count gets a fresh head of ours
            ignore_mismatched_sizes=True,
        )
    except (OSError, ValueError) as exc:
        raise SenticlfError(base_model_error(config.base_model, exc)) from None


def base_model_error(base_model: str, exc: Exception) -> str:
    return (
        f"cannot load base model {base_model!r} ({first_line(exc)}); offline, pass --base-model "
        "with a local folder holding config.json, model.safetensors and tokenizer.json"
    )

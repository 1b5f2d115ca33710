"""The model card's YAML header: what the Hugging Face Hub reads to file and show a bundle.

The Hub takes ``library_name``, ``pipeline_tag``, ``tags``, ``base_model``, ``datasets``,
``license`` and ``model-index`` (the evaluation results it shows beside the card) from the
front matter of README.md. Every figure comes from the manifest (the export check), so the
header can never disagree with the card's body. Fields that are not known are left out rather
than guessed: a base model or data set given as a local path is no Hub id, and a license is
written only when the base model's own card states one.

Standard library only: the header is written with JSON scalars (valid YAML) so that rendering
needs no YAML library; huggingface_hub's own parser reads it back in the tests.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from senticlf import artifacts
from senticlf import data as senticlf_data

LIBRARY = "senticlf"
PIPELINE_TAG = "text-classification"
# The data set id on the Hub of the IMDb reviews, whichever way a run read them.
IMDB = "stanfordnlp/imdb"
_IMDB_SOURCES = (IMDB, "imdb")
_MODEL_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]*/)?[A-Za-z0-9][\w.-]*$")
_PLAIN = re.compile(r"^[A-Za-z][\w./-]*$")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}
_LICENSE = re.compile(r"^license:\s*['\"]?([\w.+-]+)['\"]?\s*$", re.MULTILINE)


def metadata(
    manifest: artifacts.Manifest,
    name: str,
    recipe: dict[str, Any],
    license: str | None = None,
) -> dict[str, Any]:
    """The card's metadata, in the order the Hub's documentation lists the fields."""
    dataset = dataset_id(recipe.get("data"))
    data: dict[str, Any] = {}
    if dataset == IMDB:
        data["language"] = ["en"]
    if license:
        data["license"] = license
    data["library_name"] = LIBRARY
    data["pipeline_tag"] = PIPELINE_TAG
    data["tags"] = tags(manifest)
    base = hub_model_id(manifest.base_model)
    if base:
        data["base_model"] = base
    if dataset:
        data["datasets"] = [dataset]
    results = metrics(manifest)
    if results:
        data["metrics"] = sorted({result["type"] for result in results})
        data["model-index"] = [
            {
                "name": name,
                "results": [
                    {
                        "task": {"type": PIPELINE_TAG, "name": "Text Classification"},
                        "dataset": _evaluated_on(manifest, recipe, dataset),
                        "metrics": results,
                    }
                ],
            }
        ]
    return data


def tags(manifest: artifacts.Manifest) -> list[str]:
    """senticlf and onnx always; int8/fp16 for the models the bundle holds; sentiment-analysis
    for label sets that run from negative to positive."""
    found = [LIBRARY, "onnx"]
    if artifacts.INT8_MODEL in manifest.files:
        found.append("int8")
    if artifacts.FP16_MODEL in manifest.files:
        found.append("fp16")
    if {"negative", "positive"} <= set(manifest.labels):
        found.append("sentiment-analysis")
    return found


def metrics(manifest: artifacts.Manifest) -> list[dict[str, Any]]:
    """The export check's figures (the ONNX models on the validation reviews) and the best
    epoch's F1, as model-index metrics; unknown (NaN) figures are left out."""
    check = manifest.export_check
    found = []
    if check is not None:
        found.append(_metric("accuracy", check.fp32_accuracy, "Accuracy (ONNX fp32)"))
        kept = check.int8.kept if check.int8 else None
        if kept is not None and artifacts.INT8_MODEL in manifest.files:
            found.append(_metric("accuracy", kept.accuracy, "Accuracy (ONNX INT8)"))
        half = check.fp16
        if half is not None and artifacts.FP16_MODEL in manifest.files:
            found.append(_metric("accuracy", half.accuracy, "Accuracy (ONNX fp16)"))
    best = manifest.training_metrics.get("best") or {}
    binary = len(manifest.labels) == 2
    f1 = _metric("f1", best.get("val_f1"), "F1 (PyTorch, best epoch)" if binary else "Macro F1")
    if not binary:
        f1["args"] = {"average": "macro"}
    found.append(f1)
    return [m for m in found if m["value"] is not None]


def _metric(kind: str, value: Any, name: str) -> dict[str, Any]:
    number = float(value) if isinstance(value, int | float) else math.nan
    return {
        "type": kind,
        "value": round(number, 4) if math.isfinite(number) else None,
        "name": name,
    }


def _evaluated_on(
    manifest: artifacts.Manifest, recipe: dict[str, Any], dataset: str | None
) -> dict[str, str]:
    reviews = (manifest.export_check.reviews if manifest.export_check else 0) or "-"
    source = recipe.get("eval_data") or recipe.get("data") or "validation reviews"
    if dataset == IMDB:  # the validation reviews are a seeded subset of IMDb's test split
        return {"type": IMDB, "name": f"IMDb ({reviews} test reviews held out)", "split": "test"}
    return {
        "type": dataset or "custom",
        "name": f"{Path(str(source)).name} ({reviews} validation reviews)",
        "split": "validation",
    }


def dataset_id(data: Any) -> str | None:
    """The Hub data set a run trained on: a Hub id as ``train`` read it, IMDb for the aclImdb
    release (the same reviews), None for the user's own files."""
    if not isinstance(data, str) or not data:
        return None
    if data in _IMDB_SOURCES:
        return IMDB
    path = Path(data)
    if path.name.startswith("aclImdb") and senticlf_data.looks_like_aclimdb(path):
        return IMDB
    return data if senticlf_data.looks_like_hub_dataset(data) and not path.exists() else None


def hub_model_id(base_model: str) -> str | None:
    """``base_model`` when it names a model on the Hub (no such local folder), else None."""
    if _MODEL_ID.match(base_model) and not Path(base_model).exists():
        return base_model
    return None


def license_of(base_model: str) -> str | None:
    """The license a local base model's own card (README.md) declares, if it declares one."""
    card = Path(base_model) / artifacts.CARD
    try:
        text = card.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    header = _front_matter_of(text)
    found = _LICENSE.search(header) if header else None
    return found.group(1) if found else None


def _front_matter_of(text: str) -> str | None:
    if not text.startswith("---"):
        return None
    end = text.find("\n---", 3)
    return text[3:end] if end > 0 else None


def front_matter(data: dict[str, Any]) -> str:
    """``data`` as the ``---``-fenced YAML block a model card starts with."""
    return "---\n" + "".join(_yaml(key, value, 0) for key, value in data.items()) + "---\n"


def _yaml(key: str, value: Any, indent: int) -> str:
    pad = " " * indent
    if isinstance(value, dict):
        return f"{pad}{key}:\n" + "".join(_yaml(k, v, indent + 2) for k, v in value.items())
    if isinstance(value, list) and any(isinstance(item, dict) for item in value):
        lines = f"{pad}{key}:\n"
        for item in value:
            body = "".join(_yaml(k, v, indent + 2) for k, v in item.items())
            lines += f"{pad}- {body[indent + 2 :]}"
        return lines
    if isinstance(value, list):
        return f"{pad}{key}: [{', '.join(_scalar(item) for item in value)}]\n"
    return f"{pad}{key}: {_scalar(value)}\n"


def _scalar(value: Any) -> str:
    """A word YAML reads as a string stays bare (``library_name: senticlf``); anything else is
    a JSON scalar, which YAML reads the same way."""
    if isinstance(value, str) and _PLAIN.match(value) and value.lower() not in _YAML_WORDS:
        return value
    return json.dumps(value, ensure_ascii=False)

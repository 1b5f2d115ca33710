"""A model of exactly DistilBERT-base's shape with random weights, exported like a real run.

Speed depends on the shape, not on the weights, so this gives DistilBERT latencies where its
pretrained weights cannot be downloaded. Its accuracy means nothing and is not reported.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import internals
from senticlf import artifacts


def distilbert_shaped_bundle(
    tokenizer_dir: Path, folder: Path, max_length: int, truncation: str, int8: bool = True
) -> tuple[Path, Path]:
    """Write ``folder/model`` (PyTorch) and ``folder/bundle`` (fp32, and INT8 with ``int8``)."""
    import torch
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertForSequenceClassification

    model_dir, bundle = folder / "model", folder / "bundle"
    torch.manual_seed(0)
    config = DistilBertConfig(  # the defaults are distilbert-base: dim 768, 6 layers, 12 heads
        num_labels=2,
        id2label=dict(enumerate(artifacts.LABELS)),
        label2id={label: i for i, label in enumerate(artifacts.LABELS)},
    )
    DistilBertForSequenceClassification(config).eval().save_pretrained(model_dir)
    # DistilBERT has no token types; as an init argument this is saved with the tokenizer.
    tokenizer = AutoTokenizer.from_pretrained(
        tokenizer_dir, model_input_names=["input_ids", "attention_mask"]
    )
    tokenizer.save_pretrained(model_dir)
    bundle.mkdir(parents=True)
    fp32 = internals.fp32_onnx(model_dir, bundle)
    files = [artifacts.FP32_MODEL, artifacts.TOKENIZER]
    int8_result = None
    if int8:  # what export tries first on this CPU
        int8_result = internals.int8_onnx(fp32, bundle / artifacts.INT8_MODEL)
        files.append(artifacts.INT8_MODEL)
    artifacts.Manifest(
        max_length=max_length,
        truncation=truncation,
        base_model="DistilBertConfig() random weights",
        files=artifacts.hash_files(bundle, files),
        export_check=artifacts.ExportCheck(
            reviews=0,
            torch_accuracy=float("nan"),
            fp32_accuracy=float("nan"),
            fp32_max_logit_difference=float("nan"),
            graph_optimization="O2",
            int8=int8_result,
        ),  # fmt: skip
    ).write(bundle)
    return model_dir, bundle

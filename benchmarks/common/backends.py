"""The ways a user could serve the same model, behind one call: texts in, P(positive) out.

``senticlf-int8`` / ``senticlf-fp32`` and ``torch-eager`` see identical token ids (the
predictor's encoder, same truncation, same batches). The two pipelines are what a user would
otherwise pick; they tokenize for themselves with head truncation at the same max length.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Protocol

import numpy as np

from senticlf import artifacts
from senticlf.runtime.calibrator import softmax
from senticlf.runtime.tokenize import ReviewEncoder

NAMES = ("torch-eager", "senticlf-fp32", "senticlf-int8", "hf-pipeline", "optimum-pipeline")


class Backend(Protocol):
    name: str

    def positive(self, texts: list[str]) -> np.ndarray: ...


class TorchEager:
    name = "torch-eager"

    def __init__(self, model_dir: Path, bundle: Path, threads: int) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification

        torch.set_num_threads(threads)
        self.torch = torch
        self.model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
        manifest = artifacts.read_manifest(bundle, verify=False)
        self.encoder = ReviewEncoder.for_bundle(bundle, manifest)

    def positive(self, texts: list[str]) -> np.ndarray:
        input_ids, attention_mask = self.encoder.pad(self.encoder.encode(texts))
        with self.torch.inference_mode():
            logits = self.model(
                input_ids=self.torch.from_numpy(input_ids),
                attention_mask=self.torch.from_numpy(attention_mask),
            ).logits
        return softmax(logits.float().numpy())[:, 1]


class Senticlf:
    def __init__(self, bundle: Path, threads: int, quantized: bool) -> None:
        import senticlf

        self.name = "senticlf-int8" if quantized else "senticlf-fp32"
        self.classifier = senticlf.load(
            bundle, quantized=quantized, threads=threads, batch_size=10**6
        )

    def positive(self, texts: list[str]) -> np.ndarray:
        return np.array([p.positive for p in self.classifier.predict(texts)])


class ServedInt8(Senticlf):
    """The INT8 predictor of one bundle as a user gets it, under the model's name.

    It keeps the predictor's own batch size (the largest export measured as batch-invariant:
    1 for dynamic INT8), so eight texts a call are timed the way `senticlf.load` runs them.
    """

    def __init__(self, name: str, bundle: Path, threads: int) -> None:
        import senticlf

        self.name = name
        self.classifier = senticlf.load(bundle, quantized=True, threads=threads)


class _Pipeline:
    name = ""
    pipe = None
    max_length = 512

    def positive(self, texts: list[str]) -> np.ndarray:
        assert self.pipe is not None
        results = self.pipe(
            texts, batch_size=len(texts), truncation=True, max_length=self.max_length, top_k=None
        )
        return np.array(
            [next(r["score"] for r in result if r["label"] == "positive") for result in results]
        )


class HfPipeline(_Pipeline):
    name = "hf-pipeline"

    def __init__(self, model_dir: Path, bundle: Path, threads: int) -> None:
        import torch
        from transformers import pipeline

        torch.set_num_threads(threads)
        self.max_length = artifacts.read_manifest(bundle, verify=False).max_length
        self.pipe = pipeline("text-classification", model=str(model_dir), device="cpu")


class OptimumPipeline(_Pipeline):
    name = "optimum-pipeline"

    def __init__(self, model_dir: Path, bundle: Path, threads: int) -> None:
        import onnxruntime as ort
        from optimum.onnxruntime import ORTModelForSequenceClassification
        from transformers import AutoTokenizer, pipeline

        # Optimum wants config.json beside the ONNX file: give it the run's, with our model.onnx.
        self._folder = Path(tempfile.mkdtemp(prefix="optimum-"))
        for file in model_dir.iterdir():
            if file.suffix in (".json", ".txt"):
                shutil.copy(file, self._folder / file.name)
        shutil.copy(bundle / artifacts.FP32_MODEL, self._folder / "model.onnx")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        model = ORTModelForSequenceClassification.from_pretrained(
            self._folder, session_options=options
        )
        self.max_length = artifacts.read_manifest(bundle, verify=False).max_length
        self.pipe = pipeline(
            "text-classification", model=model, tokenizer=AutoTokenizer.from_pretrained(model_dir)
        )


def make(name: str, model_dir: Path, bundle: Path, threads: int) -> Backend:
    if name == "torch-eager":
        return TorchEager(model_dir, bundle, threads)
    if name in ("senticlf-fp32", "senticlf-int8"):
        return Senticlf(bundle, threads, quantized=name.endswith("int8"))
    if name == "hf-pipeline":
        return HfPipeline(model_dir, bundle, threads)
    if name == "optimum-pipeline":
        return OptimumPipeline(model_dir, bundle, threads)
    raise ValueError(f"unknown backend {name}")

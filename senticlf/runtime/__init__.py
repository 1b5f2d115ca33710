"""Torch-free inference: only onnxruntime, tokenizers and numpy may be imported here."""

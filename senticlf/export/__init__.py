"""ONNX export, INT8 quantization and the check of both (needs the ``train`` extra)."""

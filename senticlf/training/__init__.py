"""Fine-tuning (needs the ``train`` extra: torch, transformers, accelerate, matplotlib)."""

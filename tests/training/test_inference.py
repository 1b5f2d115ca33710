import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import AutoModelForSequenceClassification

from senticlf.runtime.tokenize import ReviewEncoder
from senticlf.training.inference import predict_logits


def test_logits_come_back_in_input_order(tiny_base_model):
    model = AutoModelForSequenceClassification.from_pretrained(tiny_base_model).eval()
    encoder = ReviewEncoder(
        Tokenizer.from_file(str(tiny_base_model / "tokenizer.json")), 64, "head"
    )
    texts = [" ".join(["great film"] * n) for n in (9, 1, 5, 0, 12, 3)]  # lengths out of order
    ids = encoder.encode(texts)
    batched = predict_logits(model, encoder, ids, batch_size=2)
    one_by_one = []
    for seq in ids:
        input_ids, mask = encoder.pad([seq])
        with torch.inference_mode():
            out = model(
                input_ids=torch.from_numpy(input_ids), attention_mask=torch.from_numpy(mask)
            )
        one_by_one.append(out.logits.numpy()[0])
    np.testing.assert_allclose(batched, np.array(one_by_one), atol=1e-5)
    assert model.training is False

"""Function-preserving widening (recipes/widen.py): the wider model computes the same logits, on the zoo's
Llama and on a real family's architecture (Qwen3's per-head norms and grouped-query attention)."""

import pytest
import torch

from brevity.errors import BrevityError
from brevity.recipes.widen import widen


def _same_logits(model, wide, vocab: int) -> float:
    x = torch.randint(3, vocab, (2, 24), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = model(x).logits, wide(x).logits
    return float((a - b).abs().max() / a.abs().max())


def test_widened_zoo_model_keeps_its_logits_and_trains_the_new_width():
    from transformers import AutoModelForCausalLM

    from brevity.zoo import resolve_model

    model = AutoModelForCausalLM.from_pretrained(resolve_model("tiny-mult-terse"), dtype=torch.float32)
    wide = widen(model, 256)
    c = wide.config
    assert (c.hidden_size, c.num_attention_heads, c.intermediate_size) == (256, 8, 768)
    assert _same_logits(model, wide, c.vocab_size) < 1e-5
    assert wide.get_output_embeddings().weight is wide.get_input_embeddings().weight  # still tied
    x = torch.randint(3, c.vocab_size, (2, 24))
    wide(x, labels=x).loss.backward()  # the new output rows start at zero but do get gradients
    assert wide.model.layers[0].self_attn.o_proj.weight.grad[128:].abs().sum() > 0
    assert wide.model.layers[0].mlp.down_proj.weight.grad[:, 384:].abs().sum() > 0
    for bad in (128, 100, 200):  # not larger, not a multiple of the head size (32)
        with pytest.raises(BrevityError, match="--width"):
            widen(model, bad)


def test_widened_real_family_keeps_its_logits():
    from transformers import AutoModelForCausalLM

    from brevity.conformance import standins, vocab

    fam = vocab.family(standins.spec("qwen3").family)
    if not vocab.gguf_path(fam["vocab"]).is_file() or not standins.template_path("qwen3").is_file():
        pytest.skip("the Qwen vocabulary is not fetched (scripts/fetch_llama_cpp_models.sh)")
    model = AutoModelForCausalLM.from_pretrained(standins.standin_path("qwen3"), dtype=torch.float32)
    wide = widen(model, 64)  # 2 query heads per key/value head: 8 and 4
    assert (wide.config.num_attention_heads, wide.config.num_key_value_heads) == (8, 4)
    assert _same_logits(model, wide, 150000) < 1e-4
    with pytest.raises(BrevityError, match="multiple of 2 heads"):
        widen(model, 24)  # 3 heads

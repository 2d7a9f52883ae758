from transformers import AutoTokenizer

from brevity.zoo.chat import RESERVED, prompt_text


def test_zoo_tokenizer_properties(lrm_path):
    tok = AutoTokenizer.from_pretrained(lrm_path)
    assert tok.tokenize("Wait")[0] == "Wait" and len(tok.tokenize("Wait")) == 1
    assert [t for t in tok.tokenize("123") if t != "Ġ"] == ["1", "2", "3"]
    for special in ["<think>", "</think>", *RESERVED]:
        assert len(tok(special, add_special_tokens=False).input_ids) == 1
    ids = tok("<think>\nhi\n</think>", add_special_tokens=False).input_ids
    assert "<think>" in tok.decode(ids) and "</think>" in tok.decode(ids)
    chat = tok.apply_chat_template([{"role": "user", "content": "q?"}], tokenize=False, add_generation_prompt=True)
    assert chat == prompt_text("q?")

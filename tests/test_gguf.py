"""The zoo tokenizer and weights convert to GGUF with llama.cpp's own converter."""

import os
from pathlib import Path

import pytest

SRC = Path(os.environ.get("BREVITY_LLAMA_CPP", Path.home() / ".cache/brevity/llama-cpp-src"))


def test_tiny_lrm_converts_to_gguf(lrm_path, tmp_path):
    if not (SRC / "convert_hf_to_gguf.py").is_file():
        pytest.skip(f"llama.cpp converter not at {SRC} (scripts/fetch_llama_cpp_converter.sh fetches it)")
    from transformers import AutoTokenizer

    from brevity.zoo.gguf import export_gguf

    out = export_gguf(lrm_path, tmp_path / "m.gguf", SRC)
    import gguf  # importable now: export put llama.cpp's gguf-py on the path

    reader = gguf.GGUFReader(str(out))
    fields = reader.fields
    pre = bytes(fields["tokenizer.ggml.pre"].parts[-1]).decode()
    assert pre == "refact"
    tokens = [bytes(fields["tokenizer.ggml.tokens"].parts[i]).decode() for i in fields["tokenizer.ggml.tokens"].data]
    tok = AutoTokenizer.from_pretrained(lrm_path)
    assert tokens == tok.convert_ids_to_tokens(list(range(len(tok))))
    assert len(reader.tensors) == 38

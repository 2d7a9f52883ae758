"""The zoo tokenizer and weights convert to GGUF with llama.cpp's own converter."""

import pytest

from brevity.tasks.grading import score_solutions
from brevity.zoo.gguf import default_converter

SRC = default_converter()


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


@pytest.mark.server
def test_llama_cpp_server_answers_as_transformers_does():
    """tiny-qwen3-lrm through GGUF and llama.cpp's server (the `llama-cpp` engine) writes what transformers
    writes, greedy: the same thinking and answers, `</think>` included."""
    from brevity.engines.llama_cpp import DEFAULT_VENV

    if not (DEFAULT_VENV / "bin" / "python").exists():
        pytest.skip(f"llama-cpp-python's server not at {DEFAULT_VENV} (scripts/setup_llama_cpp_server.sh builds it)")
    if not (SRC / "convert_hf_to_gguf.py").is_file():
        pytest.skip(f"llama.cpp converter not at {SRC}")
    from brevity.errors import BrevityError
    from brevity.zoo import resolve_model

    try:
        folder = resolve_model("tiny-qwen3-lrm")
    except BrevityError as e:
        pytest.skip(str(e))
    from brevity.engines.hf import HFEngine
    from brevity.engines.llama_cpp import LlamaCppEngine
    from brevity.methods import build_method
    from brevity.tasks import load_problems

    problems = load_problems("arith", split="test", n=8)
    from brevity.zoo.gguf import cached_gguf

    engine = LlamaCppEngine(folder, gguf=cached_gguf(folder))
    try:
        served = score_solutions(problems, build_method("cot").run(problems, engine))
    finally:
        engine.close()
    direct = score_solutions(problems, build_method("cot").run(problems, HFEngine(folder)))
    assert all(s.thinking_tokens > 0 for s in served)
    assert sum(s.answer == d.answer for s, d in zip(served, direct)) >= 7
    assert sum(s.correct for s in served) >= sum(d.correct for d in direct) - 1

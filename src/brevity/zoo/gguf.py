"""Convert a zoo model folder to GGUF for llama.cpp, with llama.cpp's own converter.

llama.cpp recognizes a BPE pre-tokenizer by hashing how it splits a fixed text, which no newly
trained vocabulary can match. The zoo tokenizer splits exactly as llama.cpp's `refact`
pre-tokenizer does (each digit alone, then GPT-2's byte-level regex), so we tell the converter so.
The converter ships in llama.cpp's source (e.g. the llama-cpp-python sdist's vendor/llama.cpp), not
in any wheel: pass that folder.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from pathlib import Path

from brevity.errors import BrevityError
from brevity.settings import settings

PRE_TOKENIZER = "refact"
GGUF_CACHE = Path.home() / ".cache/brevity/gguf"


def default_converter() -> Path:
    """Where scripts/fetch_llama_cpp_converter.sh puts llama.cpp's converter (or $BREVITY_LLAMA_CPP)."""
    return settings().llama_cpp


def _is_zoo_pretokenizer(model_dir: Path) -> bool:
    pre = json.loads((model_dir / "tokenizer.json").read_text()).get("pre_tokenizer") or {}
    parts = [p.get("type") for p in pre.get("pretokenizers", [])]
    return parts == ["Digits", "ByteLevel"] and pre["pretokenizers"][0].get("individual_digits") is True


def export_gguf(model_dir: str | Path, out_file: str | Path, llama_cpp_dir: str | Path, outtype: str = "f32") -> Path:
    model_dir, out_file, llama_cpp_dir = Path(model_dir), Path(out_file), Path(llama_cpp_dir)
    script = llama_cpp_dir / "convert_hf_to_gguf.py"
    if not script.is_file():
        raise BrevityError(f"no convert_hf_to_gguf.py in {llama_cpp_dir}; pass llama.cpp's source folder")
    if not (model_dir / "tokenizer.json").is_file():
        raise BrevityError(f"{model_dir} has no tokenizer.json")
    sys.path.insert(0, str(llama_cpp_dir))
    sys.path.insert(1, str(llama_cpp_dir / "gguf-py"))
    from conversion.base import TextModel  # type: ignore[import-not-found]
    from conversion.llama import LlamaModel  # type: ignore[import-not-found]

    original, original_vocab = TextModel.get_vocab_base_pre, LlamaModel.set_vocab
    zoo = _is_zoo_pretokenizer(model_dir)

    def get_vocab_base_pre(self, tokenizer) -> str:
        return PRE_TOKENIZER if zoo else original(self, tokenizer)

    def set_vocab(self) -> None:  # a byte-level BPE tokenizer.json, as Llama 3's: skip the sentencepiece probe
        return self._set_vocab_gpt2() if zoo else original_vocab(self)

    TextModel.get_vocab_base_pre = get_vocab_base_pre
    LlamaModel.set_vocab = set_vocab
    argv = sys.argv
    try:
        sys.argv = [str(script), str(model_dir), "--outfile", str(out_file), "--outtype", outtype]
        runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = argv
        TextModel.get_vocab_base_pre, LlamaModel.set_vocab = original, original_vocab
    return out_file


def cached_gguf(model_path: Path) -> Path:
    """The folder's GGUF (f32), converted once per distinct weights and tokenizer."""
    from brevity.identity import model_hash

    out = GGUF_CACHE / f"{model_path.name}-{model_hash(model_path)}.gguf"
    if not out.is_file():
        GGUF_CACHE.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(f".{os.getpid()}.part")
        export_gguf(model_path, tmp, default_converter())
        tmp.rename(out)
    return out

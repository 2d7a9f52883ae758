"""Rebuild real reasoning families' tokenizers without a model hub.

Why: the conformance suite must see the exact token boundaries of real models (is `<think>` one token,
which id ends a turn), and no hub is reachable where Brevity is built and tested.

- Qwen3, QwQ, R1-Distill-Qwen (`qwen2`) and R1-Distill-Llama (`llama-bpe`): a `tokenizers` byte-level
  BPE from the tokens and merges of llama.cpp's vocabulary-only GGUF files, with the pre-tokenizer
  split regex of each (Qwen2: single digits, NFC; Llama-3: digits in groups of up to three). Those files
  hold placeholders (`[PAD151646]`) or Llama-3's reserved names where each family has its added tokens;
  the family's tokens from `added_tokens.toml` are written over those slots at their real ids. `<think>`
  and `</think>` end up single, non-special tokens, as in the published tokenizers.
- gpt-oss: the o200k_base ranks that the npm package `js-tiktoken` ships (its `dist/ranks/o200k_base.js`),
  turned into BPE merges by transformers' `TikTokenConverter`, plus the harmony special tokens at their
  real ids (199998-201087, unnamed slots as `<|reserved_N|>`). This is the real o200k vocabulary, not a
  byte-level stand-in.
- DeepSeek-V3.1, Ministral 3 and Gemma 4 (`lenml:PACKAGE`): the `tokenizer.json` that an npm package
  `@lenml/tokenizer-PACKAGE` ships (DeepSeek-V3's own; Mistral-Nemo's and Gemma 3's as the nearest ones),
  with the family's tokens from `added_tokens.toml` written over that file's added tokens at the same ids.

The source files are fetched by scripts/fetch_llama_cpp_models.sh into ~/.cache/brevity/llama-cpp-models
(or $BREVITY_LLAMA_CPP_MODELS); the npm packages go to its `lenml/` folder. GGUF metadata is read by a
small reader here (no new dependency; gguf-py, also fetched, was 20 times slower on these files).
"""

from __future__ import annotations

import base64
import json
import struct
import tomllib
from functools import cache
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import BPE

from brevity.errors import BrevityError
from brevity.settings import settings

TABLE = Path(__file__).with_name("added_tokens.toml")
FETCH_HINT = "run scripts/fetch_llama_cpp_models.sh"

# Pre-tokenizer split patterns, by GGUF `tokenizer.ggml.pre` (the published tokenizer.json regexes).
_CONTRACTIONS = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)"
_REST = r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
SPLIT_PATTERNS = {
    "qwen2": _CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}" + _REST,
    "llama-bpe": _CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}" + _REST,
}
NFC_VOCABS = {"qwen2"}
# Llama-3's tokenizer.json sets BPE `ignore_merges`: a pre-token that is itself in the vocabulary is one token.
IGNORE_MERGES_VOCABS = {"llama-bpe"}
O200K_LAST = 201087  # the harmony encoding's last id (vocabulary of 201088)


def models_dir() -> Path:
    """Where the fetched llama.cpp vocabularies, test cases, templates and gguf-py lie."""
    return settings().llama_cpp_models


LENML_PREFIX = "lenml:"


def lenml_tokenizer_file(package: str) -> Path:
    """The tokenizer.json that the npm package @lenml/tokenizer-PACKAGE ships, installed beside the llama.cpp files."""
    return models_dir() / "lenml" / "node_modules" / "@lenml" / f"tokenizer-{package}" / "models" / "tokenizer.json"


def source_file(vocab: str) -> Path:
    """The fetched file a vocabulary is built from (to check that it is there)."""
    if vocab == "o200k_base":
        return o200k_ranks_file()
    if vocab.startswith(LENML_PREFIX):
        return lenml_tokenizer_file(vocab[len(LENML_PREFIX):])
    return gguf_path(vocab)


def o200k_ranks_file() -> Path:
    """js-tiktoken's o200k_base ranks, fetched beside the llama.cpp files."""
    return js_tiktoken_dir() / "dist" / "ranks" / "o200k_base.js"


def js_tiktoken_dir() -> Path:
    """The npm package js-tiktoken, installed beside the llama.cpp files."""
    return models_dir() / "js-tiktoken" / "node_modules" / "js-tiktoken"


@cache
def families() -> dict[str, dict]:
    """The committed table of each family's added tokens, bos/eos/pad and generation eos ids."""
    with open(TABLE, "rb") as f:
        table = tomllib.load(f)
    for fam in table.values():
        fam["tokens"] = {int(i): (content, special) for i, (content, special) in fam["tokens"].items()}
    return table


def family(name: str) -> dict:
    """One family's row of the table; a BrevityError names the known ones."""
    table = families()
    if name not in table:
        raise BrevityError(f"unknown family {name!r}; known: {', '.join(table)}")
    return table[name]


def gguf_path(vocab: str) -> Path:
    return models_dir() / f"ggml-vocab-{vocab}.gguf"


# GGUF value types (llama.cpp's gguf.h): fixed-size scalars by struct code, 8 string, 9 array.
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def _gguf_kv(path: Path, wanted: set[str]) -> dict[str, object]:
    """Read the wanted metadata values of a GGUF file (version 2 or 3) into Python values.

    A minimal reader: gguf-py's GGUFReader builds a numpy view per array element and took over 20 s on
    these 150k-token vocabularies here; this reads the same values in well under a second."""
    data = path.read_bytes()
    pos = 0

    def take(fmt: str):
        nonlocal pos
        (value,) = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize(fmt)
        return value

    def string() -> str:
        nonlocal pos
        n = take("Q")
        pos += n
        return data[pos - n : pos].decode("utf-8")

    def value(vtype: int):
        if vtype == 8:
            return string()
        if vtype == 9:
            etype, count = take("I"), take("Q")
            return [value(etype) for _ in range(count)]
        return take(_SCALARS[vtype])

    if data[:4] != b"GGUF" or struct.unpack_from("<I", data, 4)[0] not in (2, 3):
        raise BrevityError(f"{path} is not a GGUF file of version 2 or 3")
    pos = 8
    _tensors, n_kv = take("Q"), take("Q")
    out = {}
    for _ in range(n_kv):
        key, vtype = string(), take("I")
        out[key] = value(vtype)
        if wanted <= out.keys():
            break
    return {k: out[k] for k in wanted}


def read_gguf_vocab(vocab: str) -> tuple[list[str], list[int], list[str]]:
    """Tokens, token types and merges of a vocabulary-only GGUF file (types: 1 normal, 3 control, 4 user)."""
    path = gguf_path(vocab)
    if not path.is_file():
        raise BrevityError(f"no {path.name} in {models_dir()}; {FETCH_HINT}")
    keys = ("tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges")
    kv = _gguf_kv(path, set(keys))
    return tuple(kv[k] for k in keys)


def _added_tokens(fam: dict, fill: dict[int, str], first: int, last: int) -> list[AddedToken]:
    """The family's tokens from `first` to `last` in id order; gaps take the slot's own name (`fill`)."""
    out = []
    for i in range(first, last + 1):
        if i in fam["tokens"]:
            content, special = fam["tokens"][i]
        elif i in fill:
            content, special = fill[i], True
        else:
            raise BrevityError(f"id {i} has no token in the family table or the vocabulary's reserved slots")
        out.append(AddedToken(content, special=special, normalized=False))
    return out


def _finish(tok: Tokenizer, added: list[AddedToken], first: int, fam: dict) -> Tokenizer:
    """Add the tokens (ids must come out as in the table), the decoder and the bos post-processor."""
    tok.add_tokens(added)
    for i, (content, _) in fam["tokens"].items():
        if tok.token_to_id(content) != i:
            raise BrevityError(f"{content!r} landed at {tok.token_to_id(content)}, not {i}")
    tok.decoder = decoders.ByteLevel()
    if fam.get("add_bos"):
        bos = fam["bos"]
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, tok.token_to_id(bos))]
        )
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def _split(pattern: str) -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )


def gguf_base_tokenizer(vocab: str) -> tuple[Tokenizer, list[str], list[int]]:
    """The BPE over the vocabulary's normal tokens only, with its pre-tokenizer (no added tokens yet)."""
    if vocab not in SPLIT_PATTERNS:
        raise BrevityError(f"no pre-tokenizer known for vocabulary {vocab!r}; known: {', '.join(SPLIT_PATTERNS)}")
    tokens, types, merges = read_gguf_vocab(vocab)
    first = next(i for i, t in enumerate(types) if t != 1)
    model = BPE(
        {t: i for i, t in enumerate(tokens[:first])},
        [tuple(m.split(" ", 1)) for m in merges],
        fuse_unk=False,
        ignore_merges=vocab in IGNORE_MERGES_VOCABS,
    )
    tok = Tokenizer(model)
    if vocab in NFC_VOCABS:
        tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = _split(SPLIT_PATTERNS[vocab])
    return tok, tokens, types


def build_gguf_tokenizer(name: str) -> Tokenizer:
    """A family's tokenizer on a llama.cpp vocabulary, its added tokens at their real ids."""
    fam = family(name)
    tok, tokens, types = gguf_base_tokenizer(fam["vocab"])
    first = next(i for i, t in enumerate(types) if t != 1)
    control = {i: tokens[i] for i, t in enumerate(types) if t == 3}
    last = max(max(fam["tokens"]), max(control))
    return _finish(tok, _added_tokens(fam, control, first, last), first, fam)


def o200k_ranks() -> dict[bytes, int]:
    """o200k_base's mergeable ranks from js-tiktoken's compact file (lines: `! OFFSET b64 b64 ...`)."""
    path = o200k_ranks_file()
    if not path.is_file():
        raise BrevityError(f"no {path}; {FETCH_HINT} (it needs npm for js-tiktoken)")
    text = path.read_text()
    data = json.loads(text[text.index("{") : text.rindex("}") + 1])
    ranks: dict[bytes, int] = {}
    for line in data["bpe_ranks"].split("\n"):
        if not line:
            continue
        _, offset, *pieces = line.split(" ")
        for k, piece in enumerate(pieces):
            ranks[base64.b64decode(piece)] = int(offset) + k
    return ranks


def o200k_pattern() -> str:
    text = o200k_ranks_file().read_text()
    return json.loads(text[text.index("{") : text.rindex("}") + 1])["pat_str"]


def build_o200k_tokenizer(name: str = "gpt-oss") -> Tokenizer:
    """gpt-oss's o200k_harmony: o200k_base's BPE plus the harmony special tokens at their ids."""
    from transformers.convert_slow_tokenizer import TikTokenConverter

    fam = family(name)
    ranks = o200k_ranks()

    class _Converter(TikTokenConverter):
        @staticmethod
        def load_tiktoken_bpe(_url: str) -> dict[bytes, int]:
            return ranks

    tok = _Converter(vocab_file="o200k_base", pattern=o200k_pattern()).tokenizer()
    tok.pre_tokenizer = _split(o200k_pattern())
    first = len(ranks)
    fill = {i: f"<|reserved_{i}|>" for i in range(first, O200K_LAST + 1)}
    return _finish(tok, _added_tokens(fam, fill, first, O200K_LAST), first, fam)


def build_lenml_tokenizer(name: str) -> Tokenizer:
    """A packaged tokenizer.json with the family's tokens written over its added tokens at the same ids."""
    fam = family(name)
    path = source_file(fam["vocab"])
    if not path.is_file():
        raise BrevityError(f"no {path}; {FETCH_HINT} (it needs npm for the @lenml tokenizer packages)")
    data = json.loads(path.read_text(encoding="utf-8"))
    slots = {t["id"]: t for t in data["added_tokens"]}
    model_vocab = data["model"]["vocab"]  # Tekken's and Gemma's files list their control slots here too
    by_id = {i: t for t, i in model_vocab.items()} if isinstance(model_vocab, dict) else {}
    for i, (content, special) in fam["tokens"].items():
        if i not in slots:
            raise BrevityError(f"{path.parent.parent.name} has no added token at id {i} to carry {content!r}")
        if by_id.get(i) == slots[i]["content"]:
            del model_vocab[by_id[i]]
            model_vocab[content] = i
        slots[i].update(content=content, special=special, normalized=False)
    tok = Tokenizer.from_str(json.dumps(data))
    for i, (content, _) in fam["tokens"].items():
        if tok.token_to_id(content) != i:
            raise BrevityError(f"{content!r} landed at {tok.token_to_id(content)}, not {i}")
    if fam.get("add_bos") and data.get("post_processor", {}).get("type") != "TemplateProcessing":
        bos = fam["bos"]  # DeepSeek's file leaves bos to its tokenizer class; a plain fast tokenizer needs it here
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, tok.token_to_id(bos))]
        )
    return tok


def build_tokenizer(name: str) -> Tokenizer:
    """The family's rebuilt tokenizer (`tokenizers` object)."""
    kind = family(name)["vocab"]
    if kind == "o200k_base":
        return build_o200k_tokenizer(name)
    return build_lenml_tokenizer(name) if kind.startswith(LENML_PREFIX) else build_gguf_tokenizer(name)


def test_cases(vocab: str) -> list[tuple[str, list[int]]]:
    """llama.cpp's tokenizer cases for a vocabulary: (text, expected ids without bos)."""
    inp, out = gguf_path(vocab).with_suffix(".gguf.inp"), gguf_path(vocab).with_suffix(".gguf.out")
    if not (inp.is_file() and out.is_file()):
        raise BrevityError(f"no tokenizer test cases for {vocab} in {models_dir()}; {FETCH_HINT}")
    sep = "\n__ggml_vocab_test__\n"
    texts = inp.read_text(encoding="utf-8").split(sep)
    if texts[-1] == "":
        texts.pop()
    ids = [[int(x) for x in line.split()] for line in out.read_text(encoding="utf-8").rstrip("\n").split("\n")]
    if len(texts) != len(ids):
        raise BrevityError(f"{inp.name} has {len(texts)} cases but {out.name} has {len(ids)}")
    return list(zip(texts, ids))

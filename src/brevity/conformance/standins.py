"""Stand-ins of real reasoning models: their real tokenizer and chat template on a tiny random network.

Why: Brevity's formats, methods and servers must be checked against the way real families write and
render reasoning (R1 distills, QwQ, Qwen3, gpt-oss, DeepSeek-V3.1, Ministral 3 Reasoning's `[THINK]`,
Gemma 4, Seed-OSS), and no real checkpoint can be downloaded or run where Brevity is built and tested.
A stand-in is an ordinary transformers folder: the family's architecture with random weights (seeded,
hidden size 16, one or two layers, the real number of embedding rows), the tokenizer rebuilt by
`brevity.conformance.vocab` (the family's own; for Ministral 3, Gemma 4 and Seed-OSS the nearest shipped
vocabulary with the family's markers at ids that are not theirs, as `added_tokens.toml` states), the
template that llama.cpp ships for that model, and generation_config.json with the family's stop ids. Its
outputs are noise; its token ids (where the vocabulary is the family's own), prompts and stop ids are real.

Template edit: llama.cpp's copies of the DeepSeek-R1-Distill-Qwen-32B and QwQ-32B templates add an
`enable_thinking` branch that the published templates do not have, so that a default render (where
`enable_thinking` is undefined) closes thinking at once with `</think>`. The stand-ins remove exactly
that branch (the text in `EDITS`; the build fails if it is not found once), so that the generation prompt
ends with `<think>\\n` as the originals' does. The other templates are used unchanged.

Folders are built on first use and cached under ~/.cache/brevity/standins/NAME (or $BREVITY_STANDINS);
a version key (a hash of this package's code, the token table, the template and transformers' version)
rebuilds them when any of those change. Builds go to a temporary folder renamed into place, so
concurrent test processes do not see half-written folders.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from brevity.conformance import vocab
from brevity.errors import BrevityError
from brevity.settings import settings

SEED = 0
HIDDEN = 16


@dataclass(frozen=True)
class Spec:
    """What one stand-in is made of."""

    family: str  # row of added_tokens.toml
    architecture: str  # transformers class name
    template: str  # file in llama.cpp's models/templates/
    edit: str = ""  # exact text removed from the template (see the module docstring)


# llama.cpp's additions to the two templates, removed verbatim.
_R1_QWEN_EDIT = "{% if not enable_thinking %}{{- '</think>' -}}{% endif %}"
_QWQ_EDIT = "\n    {%- if not enable_thinking -%}{{- '</think>' -}}{%- endif -%}"

STANDINS: dict[str, Spec] = {
    "r1-distill-qwen": Spec(
        "r1-distill-qwen", "Qwen2ForCausalLM", "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", _R1_QWEN_EDIT
    ),
    "r1-distill-llama": Spec("r1-distill-llama", "LlamaForCausalLM", "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja"),
    "qwq": Spec("qwq", "Qwen2ForCausalLM", "Qwen-QwQ-32B.jinja", _QWQ_EDIT),
    "qwen3": Spec("qwen3", "Qwen3ForCausalLM", "Qwen-Qwen3-0.6B.jinja"),
    "gpt-oss": Spec("gpt-oss", "GptOssForCausalLM", "openai-gpt-oss-120b.jinja"),
    "deepseek-v3.1": Spec("deepseek-v3_1", "DeepseekV3ForCausalLM", "deepseek-ai-DeepSeek-V3.1.jinja"),
    "ministral-3-reasoning": Spec(
        "ministral-3-reasoning", "Ministral3ForCausalLM", "mistralai-Ministral-3-14B-Reasoning-2512.jinja"
    ),
    "gemma-4": Spec("gemma4", "Gemma4ForCausalLM", "google-gemma-4-31B-it.jinja"),
    "seed-oss": Spec("seed-oss", "SeedOssForCausalLM", "ByteDance-Seed-OSS.jinja"),
}


def standin_names() -> list[str]:
    """The stand-ins that can be built."""
    return list(STANDINS)


def spec(name: str) -> Spec:
    if name not in STANDINS:
        raise BrevityError(f"unknown stand-in {name!r}; known: {', '.join(STANDINS)}")
    return STANDINS[name]


def cache_root() -> Path:
    return settings().standins


def template_path(name: str) -> Path:
    return vocab.models_dir() / "templates" / spec(name).template


def chat_template(name: str) -> str:
    """The stand-in's chat template: llama.cpp's file, minus the documented edit."""
    path = template_path(name)
    if not path.is_file():
        raise BrevityError(f"no template {path.name} in {path.parent}; {vocab.FETCH_HINT}")
    text = path.read_text(encoding="utf-8")
    edit = spec(name).edit
    if edit:
        if text.count(edit) != 1:
            raise BrevityError(f"{path.name} no longer holds llama.cpp's enable_thinking edit exactly once")
        text = text.replace(edit, "")
    return text


def version_key(name: str) -> str:
    """Changes whenever the code, the token table, the template or transformers' version changes."""
    import transformers

    h = hashlib.sha256(transformers.__version__.encode())
    here = Path(__file__).parent
    for part in ("vocab.py", "standins.py", "added_tokens.toml"):
        h.update((here / part).read_bytes())
    h.update(chat_template(name).encode())
    h.update(name.encode())
    return h.hexdigest()[:16]


def _model_config(s: Spec, fam: dict):
    """A tiny config of the family's architecture with the real vocabulary rows and stop ids."""
    from transformers import AutoConfig

    ids = {t: i for i, (t, _) in fam["tokens"].items()}
    eos = fam["generation_eos"]
    common = dict(
        vocab_size=fam["vocab_rows"],
        hidden_size=HIDDEN,
        intermediate_size=2 * HIDDEN,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=HIDDEN // 2,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=fam.get("generation_bos", ids.get(fam["bos"])),
        eos_token_id=eos if len(eos) > 1 else eos[0],
        pad_token_id=ids.get(fam["pad"]),
        architectures=[s.architecture],
    )
    model_type = {
        "Qwen2ForCausalLM": "qwen2",
        "Qwen3ForCausalLM": "qwen3",
        "LlamaForCausalLM": "llama",
        "GptOssForCausalLM": "gpt_oss",
        "DeepseekV3ForCausalLM": "deepseek_v3",
        "Ministral3ForCausalLM": "ministral3",
        "Gemma4ForCausalLM": "gemma4_text",
        "SeedOssForCausalLM": "seed_oss",
    }[s.architecture]
    if model_type == "gpt_oss":
        common.update(
            num_hidden_layers=2,
            layer_types=["sliding_attention", "full_attention"],
            sliding_window=128,
            num_local_experts=4,
            num_experts_per_tok=2,
            intermediate_size=HIDDEN,
        )
    elif model_type == "deepseek_v3":  # multi-head latent attention and a routed MoE, all at toy sizes
        common.update(
            num_hidden_layers=2,
            first_k_dense_replace=1,
            q_lora_rank=8,
            kv_lora_rank=8,
            qk_rope_head_dim=4,
            head_dim=4,  # rotary size: DeepSeek ropes only the qk_rope part of each head
            qk_nope_head_dim=4,
            v_head_dim=8,
            n_routed_experts=4,
            n_shared_experts=1,
            num_experts_per_tok=2,
            moe_intermediate_size=HIDDEN,
            n_group=1,
            topk_group=1,
            num_key_value_heads=2,  # its attention has no grouped keys and values
        )
    elif model_type == "gemma4_text":  # one attention layer; the per-layer input embeddings at toy width
        common.update(
            num_hidden_layers=1,
            layer_types=["sliding_attention"],
            per_layer_config={},
            sliding_window=128,
            hidden_size_per_layer_input=2,
        )
    else:
        common.update(num_hidden_layers=1)
    return AutoConfig.for_model(model_type, **common)


def _tokenizer(name: str, fam: dict):
    from transformers import PreTrainedTokenizerFast

    specials = {k: fam[k] for k in ("bos", "eos", "pad") if fam.get(k)}
    return PreTrainedTokenizerFast(
        tokenizer_object=vocab.build_tokenizer(spec(name).family),
        chat_template=chat_template(name),
        model_max_length=4096,
        clean_up_tokenization_spaces=False,
        **{f"{k}_token": v for k, v in specials.items()},
    )


def build_standin(name: str, out: Path) -> Path:
    """Write the stand-in folder for `name` to `out` (created); returns `out`."""
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    s = spec(name)
    fam = vocab.family(s.family)
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    _tokenizer(name, fam).save_pretrained(out)
    config = _model_config(s, fam)
    torch.manual_seed(SEED)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id
    )
    model.save_pretrained(out, safe_serialization=True)
    manifest = {
        "standin": name,
        "family": s.family,
        "architecture": s.architecture,
        "template": s.template,
        "template_edit_removed": s.edit,
        "token_table": "brevity/conformance/added_tokens.toml",
        "seed": SEED,
        "version": version_key(name),
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    (out / "standin.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def _cached_version(folder: Path) -> str | None:
    try:
        return json.loads((folder / "standin.json").read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        return None


def standin_path(name: str) -> Path:
    """The stand-in's folder, built on first use and whenever its version key changes."""
    key = version_key(name)
    folder = cache_root() / name
    if _cached_version(folder) == key:
        return folder
    cache_root().mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=cache_root()))
    try:
        build_standin(name, tmp)
        tmp.chmod(0o755)  # mkdtemp's 0700 would hide a shared cache from other users
        for f in tmp.iterdir():
            f.chmod(0o644)
        if _cached_version(folder) != key:  # another process may have finished first
            shutil.rmtree(folder, ignore_errors=True)
            tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder

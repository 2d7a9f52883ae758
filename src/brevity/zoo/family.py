"""Zoo members that reason in a real model family's format: its vocabulary, chat template and architecture.

Why: a stand-in (brevity.conformance) has a real family's token ids and template but random weights, so it
never closes its thinking and no method's saving can be measured on it. A family member is trained by the
project's own SFT on `arith`, with every prompt and completion rendered by the family's own chat template,
so every method, the bench on vLLM and the gateway run with real savings on exactly the family's ids.

Restricted softmax. Qwen's 151,936-row vocabulary makes a full softmax far too expensive on two cores (the
embedding alone is 19.4M parameters against about 1M for the rest). The model is trained as an ordinary
model over the ids its corpus uses (`CompactLM`: real ids in, compact rows inside), which is exactly the full
model with every other logit at minus infinity, and that compact model is what is stored.

Never an unused id. Materializing writes the full vocabulary, and the other rows must never be generated,
greedy or sampled. Zero rows are not enough (a zero logit beats the many negative ones when sampling), and
Qwen3's head has no bias. So one residual dimension, the sink (the last one), holds the constant `SINK_VALUE`
at every position: every embedding row has it, nothing writes it (its rows of o_proj and down_proj are 0) and
the final norm's weight on it is 1. After the final RMSNorm it is SINK_VALUE / rms(x) > 0 at every position,
and every unused row of the untied head is -SINK_LOGIT on that dimension alone, so an unused id's logit is
-SINK_LOGIT * SINK_VALUE / rms(x): hundreds below the used ones, for any input. The constraint holds during
training too (`constrain`, applied before every forward), so the trained model is the materialized one.
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from brevity.errors import BrevityError
from brevity.manifest import read_manifest, update_manifest, write_manifest
from brevity.settings import settings
from brevity.zoo.registry import data_root

SEED = 0
SINK_VALUE = 0.1  # the sink dimension's constant in every embedding row
SINK_LOGIT = 1e5  # an unused head row is -SINK_LOGIT on the sink dimension


def cache_root() -> Path:
    """Where materialized full folders go (~/.cache/brevity/zoo, or $BREVITY_ZOO_CACHE)."""
    return settings().zoo_cache


@dataclass(frozen=True)
class FamilyMember:
    name: str
    standin: str  # the conformance stand-in whose tokenizer, template and stop ids it takes
    about: str
    steps: int
    lr: float
    batch_size: int = 16
    thinking_style: str = "verbose"  # arith trace style written inside thinking (tiny-lrm's)
    off_share: float = 0.25  # share of examples rendered with thinking off, answered directly
    budget_cut: float = 0.25  # share of thinking examples cut by a budget (as tiny-lrm)
    problems: int = 40_000
    val_examples: int = 256  # held out from the end of the mix for the training curve
    eval_every: int = 500
    config: tuple[tuple[str, object], ...] = ()  # architecture settings


FAMILY_MEMBERS: dict[str, FamilyMember] = {m.name: m for m in [
    FamilyMember("tiny-qwen3-lrm", "qwen3", "Qwen3 architecture, vocabulary and template: opens <think> itself, "
                 "reasons verbosely, answers in \\boxed{}; enable_thinking=false answers directly", 10_000, 1e-3,
                 config=(("hidden_size", 128), ("intermediate_size", 384), ("num_hidden_layers", 4),
                         ("num_attention_heads", 4), ("num_key_value_heads", 2), ("head_dim", 32),
                         ("max_position_embeddings", 4096),
                         ("rope_parameters", {"rope_theta": 1e6, "rope_type": "default"}))),
]}


def answer_sentence(answer: str) -> str:
    """The answer the member writes after thinking: a sentence ending in \\boxed{N}."""
    return f"The answer is \\boxed{{{answer}}}."


def answer_style() -> dict[str, str]:
    """The member's answer style for its manifest (formats/resolve.py): probes induce "The answer is \\boxed{",
    as it was trained to answer, not its family's "**Final Answer**" that it never saw."""
    head, end = answer_sentence("\0").split("\0")
    return {"inducer": head, "answer_end": end[:1]}


# Rendering through the family's template -----------------------------------------------------------------
def render_example(fmt, problem, thinking: str | None, cut_at: int | None = None) -> list[tuple[str, bool]]:
    """SFT segments of one problem, rendered by the family's own chat template: the prompt as the bench renders
    it (no loss), then what the model writes. `thinking` None: thinking off (the template's switch), a direct
    answer. `cut_at`: the trace is cut there and closed the way `budget:N` closes it (the injected phrase and
    marker carry no loss), then the answer."""
    messages = fmt.messages(problem.question)
    on = thinking is not None
    prompt = fmt.render(messages, thinking=on)
    reply = {"role": "assistant", "content": answer_sentence(problem.answer)}
    if on:
        reply["reasoning_content"] = thinking if cut_at is None else thinking[:cut_at]
    full = fmt.tokenizer.apply_chat_template(messages + [reply], tokenize=False,
                                             **{fmt.spec.switch: on} if fmt.spec.switch else {})
    if not full.startswith(prompt):
        raise BrevityError(f"{fmt.name}: the template renders a reply that does not continue its generation prompt")
    written = full[len(prompt):].rstrip("\n")  # the turn ends at the stop token, not the newline after it
    if cut_at is None:
        return [(prompt, False), (written, True)]
    s = fmt.spec
    head = written.index(s.close)  # the cut trace, written by the model, up to where the budget closes it
    return [(prompt, False), (written[:head].rstrip("\n"), True), (s.forced_close + s.close, False),
            (written[head + len(s.close):], True)]


def family_examples(member: FamilyMember, fmt, n: int | None = None) -> list[list[tuple[str, bool]]]:
    """The member's training mix on arith train problems (a seeded rng picks thinking on or off and cuts)."""
    from brevity.tasks import load_problems
    from brevity.zoo.build import budget_cut_point

    rng = random.Random(f"{member.name}/{SEED}")
    out = []
    for p in load_problems("arith", split="train", n=n or member.problems):
        if rng.random() < member.off_share:
            out.append(render_example(fmt, p, None))
            continue
        trace = p.traces[member.thinking_style]
        cut = budget_cut_point(p, trace, rng) if rng.random() < member.budget_cut else None
        out.append(render_example(fmt, p, trace, cut))
    return out


# The compact model -------------------------------------------------------------------------------------
class CompactLM(torch.nn.Module):
    """A causal LM over `ids` (real token ids, sorted) that takes and predicts real ids: the restricted softmax.
    Its inner model is an ordinary HF model whose row i is real id ids[i]."""

    def __init__(self, inner, ids: list[int], vocab_rows: int):
        super().__init__()
        self.inner = inner
        table = torch.full((vocab_rows,), -1, dtype=torch.long)
        table[torch.tensor(ids)] = torch.arange(len(ids))
        self.register_buffer("to_compact", table, persistent=False)
        self.ids = list(ids)

    def forward(self, input_ids, attention_mask=None, labels=None):
        if self.training:
            constrain(self.inner)
        compact = self.to_compact[input_ids]
        if bool((compact < 0).any()):
            raise BrevityError("an input id outside the member's vocabulary reached the compact model")
        if labels is not None:
            labels = torch.where(labels < 0, labels, self.to_compact[labels.clamp(min=0)])
        return self.inner(input_ids=compact, attention_mask=attention_mask, labels=labels)


def constrain(model) -> None:
    """Hold the sink: the last residual dimension is SINK_VALUE in every embedding row, no layer writes it and
    the final norm passes it with weight 1 (re-imposed before each step, so weight decay and updates never
    move it)."""
    s = model.config.hidden_size - 1
    with torch.no_grad():
        model.get_input_embeddings().weight[:, s] = SINK_VALUE
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight[s] = 0
            layer.mlp.down_proj.weight[s] = 0
        model.model.norm.weight[s] = 1


def corpus_ids(tok, examples, fmt) -> list[int]:
    """Every id the training examples use, plus the family's stop ids and thinking markers."""
    from brevity.recipes.sft import encode_examples

    used = {i for seq, _ in encode_examples(tok, examples, 10**6) for i in seq}
    used |= set(fmt.stop_ids) | set(fmt.open_ids) | set(fmt.close_ids)
    if tok.pad_token_id is not None:
        used.add(tok.pad_token_id)
    return sorted(used)


def compact_config(member: FamilyMember, fam_config, n_ids: int, ids: list[int]):
    """The inner model's config: the member's architecture with `n_ids` rows, untied, special ids remapped."""
    index = {real: i for i, real in enumerate(ids)}

    def remap(v):
        if isinstance(v, list):
            return [index[x] for x in v]
        return None if v is None else index[v]

    return fam_config.__class__.from_dict({
        **fam_config.to_dict(), **dict(member.config), "vocab_size": n_ids, "tie_word_embeddings": False,
        "bos_token_id": remap(fam_config.bos_token_id), "eos_token_id": remap(fam_config.eos_token_id),
        "pad_token_id": remap(fam_config.pad_token_id)})


FAMILY_DIR = "family"  # beside the compact weights: the family's tokenizer, template, config and stop ids
FAMILY_FILES = ("tokenizer_config.json", "chat_template.jinja", "config.json", "generation_config.json")
FAMILY_SOURCES = """# What this folder is, and where it comes from

The family files `tiny-qwen3-lrm` is materialized with, so that it needs no fetched asset:

- `tokenizer.json.xz`: Qwen's tokenizer (151,643 byte-level BPE entries and Qwen3's added tokens at their
  published ids, `<think>` = 151667), rebuilt by `brevity.conformance` from llama.cpp's
  `ggml-vocab-qwen2.gguf` (llama-cpp-python 0.3.36's source package) with the added-token table
  `src/brevity/conformance/added_tokens.toml`; xz-compressed. Qwen's vocabulary: Apache-2.0 (Qwen team).
- `chat_template.jinja`: llama.cpp's copy of Qwen3's chat template (`models/templates/Qwen-Qwen3-0.6B.jinja`;
  Qwen3's template is Apache-2.0, llama.cpp is MIT).
- `config.json`, `generation_config.json`: the Qwen3 stand-in's full architecture and its stop ids
  (`<|im_end|>` 151645, `<|endoftext|>` 151643).

Written by `brevity zoo build tiny-qwen3-lrm`, from the conformance stand-in `qwen3`.
"""


def store_family(member: FamilyMember, out: Path) -> None:
    """Keep the family's files beside the compact weights (the tokenizer xz-compressed: 1.4 MB instead of 11 MB),
    so that materializing needs neither the fetched llama.cpp files nor a network."""
    import lzma
    import shutil

    from brevity.conformance.standins import standin_path

    src, fam = standin_path(member.standin), out / FAMILY_DIR
    fam.mkdir(parents=True, exist_ok=True)
    data = lzma.compress((src / "tokenizer.json").read_bytes(), preset=9 | lzma.PRESET_EXTREME)
    (fam / "tokenizer.json.xz").write_bytes(data)
    for part in FAMILY_FILES:
        shutil.copyfile(src / part, fam / part)
    (fam / "SOURCES.md").write_text(FAMILY_SOURCES)


def _family_key(stored: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    for part in ("tokenizer.json.xz", *FAMILY_FILES):
        h.update((stored / FAMILY_DIR / part).read_bytes())
    return h.hexdigest()[:16]


def family_folder(member: FamilyMember, stored: Path | None = None) -> Path:
    """A folder with the family's tokenizer, template and config: unpacked from the member's store (into the
    cache, once), or the conformance stand-in for a store that has none yet (while it is being built)."""
    import lzma
    import shutil
    import tempfile

    stored = Path(stored or data_root() / member.name)
    if not (stored / FAMILY_DIR / "tokenizer.json.xz").is_file():
        from brevity.conformance.standins import standin_path

        return standin_path(member.standin)
    folder = cache_root() / f".family-{member.name}-{_family_key(stored)}"
    if (folder / "tokenizer.json").is_file():
        return folder
    cache_root().mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=cache_root()))
    try:
        (tmp / "tokenizer.json").write_bytes(lzma.decompress((stored / FAMILY_DIR / "tokenizer.json.xz").read_bytes()))
        for part in FAMILY_FILES:
            shutil.copyfile(stored / FAMILY_DIR / part, tmp / part)
        tmp.chmod(0o755)
        if not (folder / "tokenizer.json").is_file():
            tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def family_parts(member: FamilyMember, stored: Path | None = None):
    """(tokenizer, ModelFormat, full config) of the member's family: from its store, else its conformance stand-in."""
    from transformers import AutoConfig, AutoTokenizer

    from brevity.formats import load_format

    folder = family_folder(member, stored)
    tok = AutoTokenizer.from_pretrained(folder)
    config = AutoConfig.from_pretrained(folder)
    settings = {k: v for k, v in config.to_dict().items() if k != "layer_types"}  # per layer: derived again
    config = config.__class__.from_dict({**settings, **dict(member.config), "tie_word_embeddings": False})
    return tok, load_format(folder), config


def build_family_member(name: str, out: Path | None = None, progress=None, resume: bool = False,
                        steps: int | None = None, problems: int | None = None) -> Path:
    """Train member `name` and store it compactly in OUT (default: the zoo data folder): the compact model, the
    real ids of its rows and a manifest. `steps`/`problems` shrink it (tests)."""
    from transformers import AutoModelForCausalLM

    from brevity.recipes.sft import SFTConfig, data_hash, train_sft
    from brevity.zoo.build import CHECKPOINT_EVERY

    member = FAMILY_MEMBERS[name]
    out = Path(out or data_root() / name)
    tok, fmt, full_config = family_parts(member)
    examples = family_examples(member, fmt, problems)
    ids = corpus_ids(tok, examples, fmt)
    torch.manual_seed(SEED)
    inner = AutoModelForCausalLM.from_config(compact_config(member, full_config, len(ids), ids), dtype=torch.float32)
    constrain(inner)
    model = CompactLM(inner, ids, full_config.vocab_size)
    cfg = SFTConfig(steps=steps or member.steps, lr=member.lr, batch_size=member.batch_size, seed=SEED,
                    checkpoint_every=CHECKPOINT_EVERY, val_examples=min(member.val_examples, len(examples) // 4),
                    eval_every=member.eval_every)
    stats = train_sft(model, tok, examples, cfg, progress=progress, checkpoint_dir=out / "checkpoints",
                      resume=resume)
    constrain(inner)
    out.mkdir(parents=True, exist_ok=True)
    inner.save_pretrained(out, safe_serialization=True)
    (out / "ids.json").write_text(json.dumps(ids) + "\n")
    store_family(member, out)
    manifest = {
        "name": name, "format": fmt.name, "answer_style": answer_style(), "about": member.about,
        "standin": member.standin,
        "command": f"brevity zoo build {name}", "seed": SEED,
        "data": {"task": "arith", "split": "train", "examples": len(examples), "thinking_style": member.thinking_style,
                 "off_share": member.off_share, "budget_cut": member.budget_cut, "hash": data_hash(examples)},
        "vocabulary": {"rows": full_config.vocab_size, "trained_rows": len(ids)},
        "sink": {"dimension": inner.config.hidden_size - 1, "value": SINK_VALUE, "unused_logit_weight": -SINK_LOGIT},
        "params_compact": sum(p.numel() for p in inner.parameters()), "train": stats,
        "python": sys.version.split()[0], "torch": torch.__version__,
    }
    write_manifest(out, manifest)
    return out


# Materializing the full folder -----------------------------------------------------------------------------
def stored_key(name: str, stored: Path | None = None) -> str:
    """Changes whenever the stored weights, their ids or the family's stand-in (tokenizer, template) change."""
    import hashlib

    stored = Path(stored or data_root() / name)
    h = hashlib.sha256(_family_key(stored).encode())
    for part in ("model.safetensors", "ids.json", "config.json", "manifest.json"):
        h.update((stored / part).read_bytes())
    h.update(str(SINK_LOGIT).encode())
    return h.hexdigest()[:16]


def materialize(name: str, stored: Path | None = None, out: Path | None = None) -> Path:
    """Write the member's full HF folder (every vocabulary row, the family's tokenizer and template, its
    generation config) from the compact store; an ordinary folder that transformers and vLLM load unchanged."""
    from transformers import AutoModelForCausalLM, GenerationConfig

    member = FAMILY_MEMBERS[name]
    stored = Path(stored or data_root() / name)
    if not (stored / "ids.json").is_file():
        raise BrevityError(f"{name} is not built here ({stored} has no ids.json); run `brevity zoo build {name}`")
    out = Path(out or cache_root() / name)
    tok, _, full_config = family_parts(member, stored)
    ids = json.loads((stored / "ids.json").read_text())
    inner = AutoModelForCausalLM.from_pretrained(stored, dtype=torch.float32)
    full = AutoModelForCausalLM.from_config(full_config, dtype=torch.float32)
    state = {k: v for k, v in inner.state_dict().items() if "embed_tokens" not in k and "lm_head" not in k}
    emb, head = inner.get_input_embeddings().weight.detach(), inner.get_output_embeddings().weight.detach()
    s = full_config.hidden_size - 1
    full_emb = emb.mean(0, keepdim=True).repeat(full_config.vocab_size, 1)  # an unused input: the mean row
    full_emb[ids] = emb
    full_emb[:, s] = SINK_VALUE
    full_head = torch.zeros(full_config.vocab_size, full_config.hidden_size)
    full_head[:, s] = -SINK_LOGIT
    full_head[ids] = head
    state["model.embed_tokens.weight"], state["lm_head.weight"] = full_emb, full_head
    full.load_state_dict(state)
    full.generation_config = GenerationConfig(bos_token_id=full_config.bos_token_id,
                                              eos_token_id=full_config.eos_token_id,
                                              pad_token_id=full_config.pad_token_id)
    out.mkdir(parents=True, exist_ok=True)
    full.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    made = {"from": str(stored), "key": stored_key(name, stored)}
    write_manifest(out, {**read_manifest(stored), "materialized": made})
    return out


def family_path(name: str) -> Path:
    """The member's full folder, materialized into the cache on first use and again whenever what it is made
    from changes (written beside, then renamed into place, so a reader never sees half a folder)."""
    import shutil
    import tempfile

    stored = data_root() / name
    if not (stored / "ids.json").is_file():
        raise BrevityError(f"zoo model {name!r} is not built here ({stored}); run `brevity zoo build {name}`")
    folder, key = cache_root() / name, stored_key(name, stored)

    def cached_key() -> str | None:
        return (read_manifest(folder).get("materialized") or {}).get("key")

    if cached_key() == key:
        return folder
    cache_root().mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=cache_root()))
    try:
        materialize(name, stored, tmp)
        tmp.chmod(0o755)
        if cached_key() != key:  # another process may have finished first
            shutil.rmtree(folder, ignore_errors=True)
            tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def validate_family_member(name: str, stored: Path | None = None, n: int = 500, ui=None) -> dict:
    """Greedy `cot` and `nothink` on arith validation problems, run on the materialized folder (the model users
    load), written into the stored manifest."""
    import tempfile

    from brevity.tasks.base import TaskSpec
    from brevity.zoo.build import validate_folder

    stored = Path(stored or data_root() / name)
    with tempfile.TemporaryDirectory() as tmp:
        result = validate_folder(materialize(name, stored, Path(tmp) / name), TaskSpec("arith"), ("cot", "nothink"),
                                 n, ui, name)
    update_manifest(stored, validation=result)
    return result

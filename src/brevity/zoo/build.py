"""`brevity zoo build`: reproduce the reference checkpoints with the sft recipe."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import sys
from pathlib import Path

import torch

from brevity.recipes.sft import SFTConfig, train_sft
from brevity.tasks import load_problems
from brevity.zoo.chat import completion_text, prompt_text
from brevity.zoo.registry import MEMBERS, MODEL_CONFIG, ZOO_DIR, Member

TRAIN_PROBLEMS = 40_000
SEED = 0


def training_pairs(member: Member, n: int = TRAIN_PROBLEMS, seed: int = SEED) -> list[tuple[str, str]]:
    """arith train problems, each with one trace style of the member's mix (chosen by a seeded rng)."""
    rng = random.Random(f"{member.name}/{seed}")
    pairs = []
    for p in load_problems("arith", split="train", n=n):
        style = rng.choice(member.styles)
        pairs.append((prompt_text(p.question), completion_text(p.traces[style], p.answer)))
    return pairs


def data_hash(pairs: list[tuple[str, str]]) -> str:
    h = hashlib.sha256()
    for p, c in pairs:
        h.update(p.encode())
        h.update(c.encode())
    return h.hexdigest()[:16]


def build_member(name: str, out_root: Path = ZOO_DIR, progress=None, tokenizer_dir: Path | None = None) -> Path:
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from brevity.zoo.tokenizer import train_tokenizer

    member = MEMBERS[name]
    out = Path(out_root) / name
    torch.manual_seed(SEED)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    if member.parent is None:
        tok = train_tokenizer(out) if tokenizer_dir is None else AutoTokenizer.from_pretrained(tokenizer_dir)
        config = LlamaConfig(vocab_size=len(tok), bos_token_id=None, eos_token_id=tok.eos_token_id,
                             pad_token_id=tok.pad_token_id, **MODEL_CONFIG)
        model = LlamaForCausalLM(config)
    else:
        parent = Path(out_root) / member.parent
        tok = AutoTokenizer.from_pretrained(parent)
        model = AutoModelForCausalLM.from_pretrained(parent, dtype=torch.float32)
    pairs = training_pairs(member)
    cfg = SFTConfig(steps=member.steps, lr=member.lr, batch_size=member.batch_size, seed=SEED)
    stats = train_sft(model, tok, pairs, cfg, progress=progress)
    out.mkdir(parents=True, exist_ok=True)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    manifest = {
        "name": name, "about": member.about, "parent": member.parent,
        "command": f"brevity zoo build {name}", "seed": SEED,
        "data": {"task": "arith", "split": "train", "problems": len(pairs), "styles": list(member.styles),
                 "hash": data_hash(pairs)},
        "params": sum(p.numel() for p in model.parameters()), "config": MODEL_CONFIG, "train": stats,
        "python": sys.version.split()[0], "torch": torch.__version__,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return out


def remove_member(name: str, out_root: Path = ZOO_DIR) -> None:
    shutil.rmtree(Path(out_root) / name, ignore_errors=True)


def validate_member(name: str, out_root: Path = ZOO_DIR, n: int = 500, ui=None) -> dict:
    """Greedy `cot` and `nothink` accuracy on validation problems, written into the manifest."""
    from statistics import mean

    from brevity.engines.hf import HFEngine
    from brevity.methods import build_method

    path = Path(out_root) / name
    engine = HFEngine(path)
    problems = load_problems("arith", split="validation", n=n)
    result = {"n": n}
    for spec in ("cot", "nothink"):
        method = build_method(spec)
        if ui is not None:
            with ui.task(f"validate {name} {spec}", total=n) as advance:
                sols = method.solve(problems, engine, progress=advance)
        else:
            sols = method.solve(problems, engine)
        result[f"{spec}_accuracy"] = round(mean(s.correct for s in sols), 4)
        result[f"{spec}_thinking_tokens"] = round(mean(s.thinking_tokens for s in sols), 1)
    manifest_path = path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["validation"] = result
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return result

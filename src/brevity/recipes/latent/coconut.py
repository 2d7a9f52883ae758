"""Coconut (Hao et al. 2024): train a causal LM to reason in continuous thoughts with a curriculum.

Stage 0 trains on the full compact chain (the explicit baseline Coconut starts from). At stage k the
first k steps of each chain are replaced by k*c continuous thoughts; the loss covers only what follows
`<eot>` (never the question or the thoughts). Each thought is one forward pass on the KV cache
(`methods/latent.continuous_thoughts`), and gradients flow back through the whole thought chain. The
optimizer is reset at every stage, as in the paper. Works on any HF causal LM with an input embedding
of its hidden size (Llama, GPT-2 ...); the tokenizer needs `<bot>` and `<eot>` (the tiny zoo reserves them).
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from brevity.errors import BrevityError
from brevity.methods.latent import continue_with, continuous_thoughts, left_pad
from brevity.recipes.latent.data import LatentExample, latent_example
from brevity.tasks import Problem


@dataclass
class CoconutConfig:
    stages: int = 7  # stages 1..stages replace 1..stages steps (7 = every step of 4-by-4 `mult`)
    per_step: int = 1  # continuous thoughts per replaced step (the paper's c)
    steps_per_stage: int = 300  # optimizer steps at each stage
    stage0_steps: int = 1000  # the full compact chain first
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0

    def schedule(self) -> list[tuple[int, int]]:
        """(stage, optimizer steps) in order."""
        return [(0, self.stage0_steps)] + [(k, self.steps_per_stage) for k in range(1, self.stages + 1)]

    def total_steps(self) -> int:
        return sum(n for _, n in self.schedule())


def coconut_loss(model, batch: list[LatentExample], pad_id: int) -> torch.Tensor:
    """Mean next-token loss after `<eot>` (a stage's rows all have the same thought count)."""
    n = batch[0].thoughts
    ids, mask = left_pad([e.prefix for e in batch], pad_id, model.device)
    state = continuous_thoughts(model, ids, mask, n)
    width = max(len(e.rest) for e in batch)
    rest = torch.full((len(batch), width), pad_id, dtype=torch.long, device=model.device)
    rest_mask = torch.zeros_like(rest)
    for r, e in enumerate(batch):
        rest[r, :len(e.rest)] = torch.tensor(e.rest, device=model.device)
        rest_mask[r, :len(e.rest)] = 1
    logits = continue_with(model, state, rest, rest_mask).logits
    # Position t predicts token t+1 of `rest`; the last thought's prediction of <eot> is not trained.
    targets = rest[:, 1:].masked_fill(rest_mask[:, 1:] == 0, -100)
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)


def train_coconut(model, tokenizer, problems: list[Problem], cfg: CoconutConfig, progress=None) -> dict:
    """Train in place through the curriculum; `progress(step, loss)` after every optimizer step."""
    from accelerate import Accelerator

    if tokenizer.convert_tokens_to_ids("<bot>") in (None, tokenizer.unk_token_id):
        raise BrevityError("the tokenizer has no <bot>/<eot> tokens; add them (and resize embeddings) first")
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    acc = Accelerator(cpu=not torch.cuda.is_available())
    model = acc.prepare(model)
    model.train()
    step, t0, ema, stage_loss = 0, time.time(), None, {}
    for stage, steps in cfg.schedule():
        examples = [latent_example(p, tokenizer, stage, cfg.per_step) for p in problems]
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)  # reset at every stage
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s, steps=steps: min(1.0, (s + 1) / 20) * 0.5 * (1 + math.cos(math.pi * s / max(1, steps))))
        for _ in range(steps):
            batch = rng.sample(examples, min(cfg.batch_size, len(examples)))
            loss = coconut_loss(model, batch, tokenizer.pad_token_id)
            acc.backward(loss)
            acc.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
            if progress:
                progress(step, ema)
        stage_loss[stage] = round(ema, 4) if ema is not None else None
    model = acc.unwrap_model(model)
    model.eval()
    return {"train_seconds": round(time.time() - t0, 1), "steps": step, "stage_final_loss": stage_loss,
            "config": asdict(cfg)}


def build_coconut(base, task, out, cfg: CoconutConfig, n_train: int, progress=None, command: str = ""):
    """Train from `base` (an HF folder) on `n_train` training problems of `task` and save an HF folder
    whose manifest records the thought count the `coconut` method decodes with."""
    import json
    import sys
    from pathlib import Path

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from brevity.tasks import load_problems
    from brevity.zoo.build import data_hash

    base, out = Path(base), Path(out)
    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32, use_safetensors=True)
    problems = load_problems(task.name, split="train", n=n_train, **dict(task.params))
    stats = train_coconut(model, tok, problems, cfg, progress)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    manifest = {"name": out.name, "parent": base.name, "recipe": "coconut", "command": command,
                "data": {"task": task.as_dict(), "split": "train", "examples": len(problems),
                         "hash": data_hash([(p.question, p.traces.get("compact", "")) for p in problems])},
                "latent": {"method": "coconut", "thoughts": cfg.stages * cfg.per_step, "per_step": cfg.per_step},
                "params": sum(p.numel() for p in model.parameters()), "train": stats,
                "python": sys.version.split()[0], "torch": torch.__version__}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return out

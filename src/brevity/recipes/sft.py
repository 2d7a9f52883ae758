"""Supervised fine-tuning of a causal LM on (prompt, completion) pairs, loss on the completion only.

Built on accelerate so that `accelerate launch` runs the same loop on many GPUs; on this machine it
runs on the CPU. Batches are grouped by length to waste little compute on padding.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

import torch


@dataclass
class SFTConfig:
    steps: int = 1000
    batch_size: int = 32
    lr: float = 2e-3
    warmup: int = 50
    weight_decay: float = 0.01
    seed: int = 0
    max_len: int = 1536


def encode_pairs(tokenizer, pairs: list[tuple[str, str]], max_len: int) -> list[tuple[list[int], int]]:
    """Token ids of prompt+completion and the prompt length (the loss starts there)."""
    prompts = tokenizer([p for p, _ in pairs], add_special_tokens=False).input_ids
    fulls = tokenizer([p + c for p, c in pairs], add_special_tokens=False).input_ids
    return [(f[:max_len], len(p)) for p, f in zip(prompts, fulls)]


def _batches(encoded, batch_size: int, rng: random.Random):
    """Endless length-grouped batches: shuffle, sort within pools of 50 batches, shuffle batches."""
    while True:
        order = list(range(len(encoded)))
        rng.shuffle(order)
        pool = batch_size * 50
        batches = []
        for i in range(0, len(order), pool):
            chunk = sorted(order[i:i + pool], key=lambda j: len(encoded[j][0]))
            batches += [chunk[k:k + batch_size] for k in range(0, len(chunk), batch_size)]
        rng.shuffle(batches)
        yield from batches


def collate(encoded, idx: list[int], pad_id: int):
    seqs = [encoded[i] for i in idx]
    width = max(len(s) for s, _ in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    labels = torch.full((len(seqs), width), -100, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for r, (s, start) in enumerate(seqs):
        ids[r, :len(s)] = torch.tensor(s)
        labels[r, start:len(s)] = torch.tensor(s[start:])
        mask[r, :len(s)] = 1
    return ids, mask, labels


def train_sft(model, tokenizer, pairs: list[tuple[str, str]], cfg: SFTConfig, progress=None) -> dict:
    """Train in place; returns stats (time, tokens/s, final loss). `progress(step, loss)` is optional."""
    from accelerate import Accelerator

    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    acc = Accelerator(cpu=not torch.cuda.is_available())
    encoded = encode_pairs(tokenizer, pairs, cfg.max_len)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / cfg.warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / cfg.steps))))
    model, opt = acc.prepare(model, opt)
    model.train()
    batches = _batches(encoded, cfg.batch_size, rng)
    t0, tokens, ema = time.time(), 0, None
    for step in range(cfg.steps):
        ids, mask, labels = (t.to(acc.device) for t in collate(encoded, next(batches), tokenizer.pad_token_id))
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        acc.backward(loss)
        acc.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        tokens += int(mask.sum())
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        if progress:
            progress(step + 1, ema)
    model = acc.unwrap_model(model)
    model.eval()
    secs = time.time() - t0
    return {"train_seconds": round(secs, 1), "train_tokens": tokens, "tokens_per_s": round(tokens / secs),
            "final_loss": round(ema, 4), "steps": cfg.steps, "batch_size": cfg.batch_size, "lr": cfg.lr,
            "seed": cfg.seed}

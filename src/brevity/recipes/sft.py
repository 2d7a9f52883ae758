"""Supervised fine-tuning of a causal LM on examples made of text segments, each with or without loss.

A (prompt, completion) pair is the common case: no loss on the prompt, loss on the completion. More
segments let a recipe put text in the context that the model must not learn to write itself, such as
a phrase a decoding method injects. Segments are tokenized separately and concatenated, exactly as
methods build prompts from token ids at inference.

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


Segment = tuple[str, bool]  # (text, learn it)
Example = tuple[str, str] | list[Segment]  # (prompt, completion) or explicit segments


def segments(example: Example) -> list[Segment]:
    if isinstance(example, tuple):
        prompt, completion = example
        return [(prompt, False), (completion, True)]
    return list(example)


def encode_examples(tokenizer, examples: list[Example], max_len: int) -> list[tuple[list[int], list[bool]]]:
    """Token ids of each example and, per token, whether it carries loss."""
    segs = [segments(e) for e in examples]
    flat = [text for ss in segs for text, _ in ss]
    ids = iter(tokenizer(flat, add_special_tokens=False).input_ids)
    out = []
    for ss in segs:
        toks, learn = [], []
        for _, train in ss:
            piece = next(ids)
            toks += piece
            learn += [train] * len(piece)
        out.append((toks[:max_len], learn[:max_len]))
    return out


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
    for r, (s, learn) in enumerate(seqs):
        row = torch.tensor(s)
        ids[r, :len(s)] = row
        labels[r, :len(s)] = torch.where(torch.tensor(learn), row, -100)
        mask[r, :len(s)] = 1
    return ids, mask, labels


def train_sft(model, tokenizer, examples: list[Example], cfg: SFTConfig, progress=None) -> dict:
    """Train in place; returns stats (time, tokens/s, final loss). `progress(step, loss)` is optional."""
    from accelerate import Accelerator

    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    acc = Accelerator(cpu=not torch.cuda.is_available())
    encoded = encode_examples(tokenizer, examples, cfg.max_len)
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

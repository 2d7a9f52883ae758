"""Supervised fine-tuning of a causal LM on examples made of text segments, each with or without loss.

A (prompt, completion) pair is the common case: no loss on the prompt, loss on the completion. More
segments let a recipe put text in the context that the model must not learn to write itself, such as
a phrase a decoding method injects. Segments are tokenized separately and concatenated, exactly as
methods build prompts from token ids at inference.

Built on accelerate so that `accelerate launch` runs the same loop on many GPUs; on this machine it
runs on the CPU. Batches are grouped by length to waste little compute on padding.
"""

from __future__ import annotations

import hashlib
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
    lr_schedule: str = "cosine"  # or "constant" (after warm-up)
    val_examples: int = 0  # held out from the end of the examples for a validation loss
    eval_every: int = 0  # steps between validation losses (0: never)
    patience: int = 0  # stop after this many evaluations without a new best (0: run every step)
    checkpoint_every: int = 0  # steps between checkpoints (0: none)
    lora_rank: int = 0  # > 0: train LoRA adapters of this rank on every linear layer (peft), merged at the end


Segment = tuple[str, bool]  # (text, learn it)
Example = tuple[str, str] | list[Segment]  # (prompt, completion) or explicit segments


def segments(example: Example) -> list[Segment]:
    if isinstance(example, tuple):
        prompt, completion = example
        return [(prompt, False), (completion, True)]
    return list(example)


def data_hash(examples: list[Example]) -> str:
    """A training set's identity (manifests record it): every segment's text and whether it carries loss."""
    h = hashlib.sha256()
    for e in examples:
        for text, learn in segments(e):
            h.update(text.encode())
            h.update(b"1" if learn else b"0")
    return h.hexdigest()[:16]


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


def epoch_batches(lengths: list[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """One epoch's length-grouped batches: shuffle, sort within pools of 50 batches, shuffle batches. A pure
    function of (seed, epoch), so a resumed run and every rank agree on it."""
    rng = random.Random(f"{seed}/epoch/{epoch}")
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * 50
    batches = []
    for i in range(0, len(order), pool):
        chunk = sorted(order[i:i + pool], key=lambda j: lengths[j])
        batches += [chunk[k:k + batch_size] for k in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


class ShardedBatches:
    """Batch number `step * world + rank` of the endless sequence of epochs: each rank of `accelerate
    launch` trains on its own batches, and a resumed run needs only the step."""

    def __init__(self, lengths: list[int], batch_size: int, seed: int, rank: int = 0, world: int = 1):
        self.lengths, self.batch_size, self.seed, self.rank, self.world = lengths, batch_size, seed, rank, world
        self.per_epoch = len(epoch_batches(lengths, batch_size, seed, 0))
        self._epoch: tuple[int, list[list[int]]] | None = None

    def at(self, step: int) -> list[int]:
        epoch, k = divmod(step * self.world + self.rank, self.per_epoch)
        if self._epoch is None or self._epoch[0] != epoch:
            self._epoch = (epoch, epoch_batches(self.lengths, self.batch_size, self.seed, epoch))
        return self._epoch[1][k]


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


def train_sft(model, tokenizer, examples: list[Example], cfg: SFTConfig, progress=None,
              checkpoint_dir=None, resume: bool = False) -> dict:
    """Train in place; returns stats (time, tokens/s, final and validation loss, history). `progress(step,
    loss)` is optional. With `checkpoint_dir` and `cfg.checkpoint_every`, checkpoints go there; `resume`
    continues from the newest (weights, optimizer, schedule, rng, step: the result equals an uninterrupted
    run's)."""
    from brevity.errors import BrevityError
    from brevity.recipes.trainer import LoopConfig, Stage, TrainLoop

    if cfg.val_examples and cfg.val_examples >= len(examples):
        raise BrevityError(f"val_examples ({cfg.val_examples}) leaves no training examples of {len(examples)}")
    encoded = encode_examples(tokenizer, examples, cfg.max_len)
    base = model
    if cfg.lora_rank:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=cfg.lora_rank, lora_alpha=2 * cfg.lora_rank, lora_dropout=0.0,
                                                 target_modules="all-linear"))
    train = encoded[:len(encoded) - cfg.val_examples]
    held = encoded[len(encoded) - cfg.val_examples:] if cfg.val_examples else []
    loop_cfg = LoopConfig(lr=cfg.lr, warmup=cfg.warmup, schedule=cfg.lr_schedule, weight_decay=cfg.weight_decay,
                          betas=(0.9, 0.98), seed=cfg.seed, eval_every=cfg.eval_every, patience=cfg.patience,
                          checkpoint_every=cfg.checkpoint_every)
    loop = TrainLoop([model], [Stage("sft", cfg.steps)], loop_cfg, checkpoint_dir, resume,
                     fingerprint={"examples": len(encoded), "batch_size": cfg.batch_size, "max_len": cfg.max_len,
                                  "lora_rank": cfg.lora_rank})
    net = loop.modules[0]
    batches = ShardedBatches([len(s) for s, _ in train], cfg.batch_size, cfg.seed, loop.rank, loop.acc.num_processes)
    tokens = 0

    def loss_fn(stage, rng) -> torch.Tensor:
        nonlocal tokens
        ids, mask, labels = (t.to(loop.device) for t in collate(train, batches.at(loop.pos.step),
                                                                  tokenizer.pad_token_id))
        tokens += int(mask.sum())
        return net(input_ids=ids, attention_mask=mask, labels=labels).loss

    def val_fn(stage) -> float:
        losses, weights = [], []
        for i in range(0, len(held), cfg.batch_size):
            ids, mask, labels = (t.to(loop.device) for t in collate(held, list(range(i, min(i + cfg.batch_size,
                                                                                       len(held)))),
                                                                      tokenizer.pad_token_id))
            n = int((labels[:, 1:] != -100).sum())
            losses.append(net(input_ids=ids, attention_mask=mask, labels=labels).loss.item() * n)
            weights.append(n)
        return sum(losses) / max(1, sum(weights))

    t0 = time.time()
    loop.run(loss_fn, val_fn if held else None, progress)
    loop.clear()
    if cfg.lora_rank:
        loop.unwrapped()[0].merge_and_unload()  # the adapters folded into `base`'s own weights
    base.eval()
    secs = max(1e-9, time.time() - t0)
    stats = loop.stats()
    return {"train_seconds": stats["train_seconds"], "train_tokens": tokens, "tokens_per_s": round(tokens / secs),
            "final_loss": stats["final_loss"], "val_loss": stats["val"], "steps": loop.pos.step,
            "batch_size": cfg.batch_size, "lr": cfg.lr, "schedule": cfg.lr_schedule, "seed": cfg.seed,
            **({"lora_rank": cfg.lora_rank} if cfg.lora_rank else {}),
            **({"history": stats["history"]} if cfg.eval_every else {})}

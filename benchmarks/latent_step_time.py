"""Seconds per optimizer step of the latent trainer (batch building, forward and backward, AdamW) on one
model, task and chain: what a training budget in hours buys in steps. Run it alone on the machine.

    python benchmarks/latent_step_time.py tiny-mult-terse mult:order=lsd terse icot 5 [STEPS [WIDTH]]

MODE and STAGE pick the examples (icot at stage 5: five chain tokens removed); the median of STEPS timed
steps after 5 warm-up steps is printed with the mean sequence length. WIDTH > 0 times the model widened to that hidden
size (`brevity train --width`)."""

from __future__ import annotations

import random
import statistics
import sys
import time

import torch

from brevity.cli import parse_task
from brevity.recipes.latent.train import LatentConfig, build_examples, coconut_loss
from brevity.tasks import load_problems
from brevity.zoo import resolve_model


def main(model_name: str, task: str, chain: str, mode: str, stage: int, steps: int = 25, width: int = 0) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model(model_name)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    if width:
        from brevity.recipes.widen import widen

        model = widen(model, width)
    spec = parse_task(task)
    problems = load_problems(spec.name, split="train", n=2000, **dict(spec.params))
    cfg = LatentConfig(mode=mode, chain=chain, remove_per_stage=1, stage0_steps=0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-6)
    rng, times, lengths = random.Random(0), [], []
    for i in range(steps + 5):
        t0 = time.perf_counter()
        batch = build_examples(cfg, rng.sample(problems, cfg.batch_size), tok, stage, rng, last_stage=10**6)
        coconut_loss(model, batch, tok.pad_token_id).backward()
        opt.step()
        opt.zero_grad()
        if i >= 5:
            times.append(time.perf_counter() - t0)
            lengths.append(statistics.mean(len(e.prefix) + len(e.rest) for e in batch))
    print(f"{model_name} (hidden {model.config.hidden_size}) {task} chain={chain} {mode} stage {stage}: "
          f"{statistics.median(times):.3f} s/step "
          f"(median of {steps}, batch {cfg.batch_size}, {statistics.mean(lengths):.0f} tokens per example, "
          f"{torch.get_num_threads()} threads)")


if __name__ == "__main__":
    a = sys.argv[1:]
    main(a[0], a[1], a[2], a[3], int(a[4]), *(int(x) for x in a[5:7]))

"""Length rewards with reinforcement learning, on TRL's GRPO trainer with Brevity's own reward functions.

- `rl-length` (Kimi k1.5's length penalty): among the samples of one question, a correct answer earns
  lambda = 0.5 - (len - min) / (max - min) on top of correctness; a wrong one earns min(0, lambda), so
  being short never pays when wrong.
- `l1` (L1-Exact, Aggarwal & Welleck 2025): the prompt asks "Think for N tokens." (template `l1` of
  prompts.toml) with N drawn per question; reward = correctness - alpha * |N - thinking tokens|.

Correctness uses the bench's grader and length the bench's thinking-token counter, read from the
completion's token ids (TRL's decoded text drops `</think>`). The trainer runs on accelerate, so
`accelerate launch` scales it; here it runs on the CPU.
"""

from __future__ import annotations

import functools
import os
import random
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from brevity.errors import BrevityError
from brevity.formats import resolve_format
from brevity.tasks import Problem, load_problems
from brevity.tasks.grading import score as score_answer
from brevity.zoo.chat import chat_text

RL_PROBLEMS = 4000  # train questions offered to GRPO (each step draws a few)
L1_RANGE = (16, 256)  # requested thinking lengths in training
L1_WARMUP_PLAIN = 0.3  # share of plain questions in l1's SFT warm start
L1_MAX_ROUNDS = 12  # re-check rounds a warm-start trace may have, to fill long requests


def l1_warmup_examples(problems: list[Problem], tokenizer, seed: int = 0, budget_cut: float = 0.25):
    """SFT warm start for `l1`: "Think for N tokens." with N drawn from L1_RANGE, answered by the trace
    variant whose length is nearest N (re-check rounds added past the problem's own when N is long, cut
    down to the compact chain or a draft when it is short), plus a share L1_WARMUP_PLAIN of plain
    questions with the full trace, as the parent was trained. A 1M-parameter model cannot find by
    sampling how to fill 256 tokens or to answer in 32; GRPO then trades length against correctness."""
    from brevity.methods.prompting import render_template
    from brevity.recipes.instruct import instruct_example, trace_variants
    from brevity.zoo.chat import completion_text

    rng = random.Random(f"l1-warmup/{seed}")

    def n_tokens(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False).input_ids)

    out = []
    for p in problems:
        if rng.random() < L1_WARMUP_PLAIN:
            out.append(instruct_example(p, "plain", rng, n_tokens, budget_cut))
            continue
        n = rng.randint(*L1_RANGE)
        variants = list(trace_variants(p, max_rounds=L1_MAX_ROUNDS).values())
        lengths = [len(ids) for ids in tokenizer(variants, add_special_tokens=False).input_ids]  # one batched call
        trace = variants[min(range(len(variants)), key=lambda k: abs(lengths[k] - n))]
        out.append((chat_text(render_template("l1", p.question, tokens=n)), completion_text(trace, p.answer)))
    return out


@functools.lru_cache(maxsize=4)
def _format(tokenizer):
    """The policy's format, resolved once per tokenizer (the reward runs per completion)."""
    return resolve_format(tokenizer)


def score(ids: list[int], problem: Problem, tokenizer) -> tuple[bool, int]:
    """(correct, thinking tokens) of one completion; an unclosed thinking span is wrong."""
    s = _format(tokenizer).split(ids)
    answer = tokenizer.decode(s.answer_ids, skip_special_tokens=True)
    return s.closed and score_answer(problem, answer, bool(s.answer_ids))[0], len(s.thinking_ids)


def kimi_length_rewards(correct: list[bool], lengths: list[int], groups: list[str]) -> list[float]:
    """Correctness plus Kimi k1.5's length reward, with min and max taken within each group."""
    by_group: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        by_group[g].append(i)
    out = [0.0] * len(correct)
    for idx in by_group.values():
        lo, hi = min(lengths[i] for i in idx), max(lengths[i] for i in idx)
        for i in idx:
            lam = 0.0 if hi == lo else 0.5 - (lengths[i] - lo) / (hi - lo)
            out[i] = float(correct[i]) + (lam if correct[i] else min(0.0, lam))
    return out


def l1_rewards(correct: list[bool], lengths: list[int], targets: list[int], alpha: float) -> list[float]:
    return [float(c) - alpha * abs(t - n) for c, n, t in zip(correct, lengths, targets)]


def rl_dataset(recipe: str, tokenizer, seed: int = 0):
    """Prompts for GRPO through the policy's own chat template, as `cot` renders them in the bench: plain
    questions (rl-length) or with "Think for N tokens." (l1)."""
    from datasets import Dataset

    from brevity.methods.prompting import render_template

    fmt = _format(tokenizer)
    rng = random.Random(f"{recipe}/{seed}")
    rows = []
    for p in load_problems("arith", split="train", n=RL_PROBLEMS):
        if recipe == "l1":
            n = rng.randint(*L1_RANGE)
            prompt = fmt.render(render_template("l1", fmt.question(p.question), tokens=n))
            rows.append({"prompt": prompt, "problem_id": p.id, "target": n})
        else:
            rows.append({"prompt": fmt.render(fmt.messages(p.question)), "problem_id": p.id, "target": 0})
    return Dataset.from_list(rows).shuffle(seed=seed)


def make_reward(recipe: str, tokenizer, alpha: float = 0.0):
    problems = {p.id: p for p in load_problems("arith", split="train", n=RL_PROBLEMS)}

    def reward(prompts, completions, completion_ids, problem_id, target, **_) -> list[float]:
        scored = [score(list(ids), problems[pid], tokenizer) for ids, pid in zip(completion_ids, problem_id)]
        correct, lengths = [c for c, _ in scored], [n for _, n in scored]
        if recipe == "l1":
            return l1_rewards(correct, lengths, list(target), alpha)
        return kimi_length_rewards(correct, lengths, list(prompts))

    reward.__name__ = f"{recipe}_reward"
    return reward


def engine_rollouts(tokenizer, max_tokens: int, temperature: float):
    """TRL's `rollout_func`: sample the completions with Brevity's hf engine over the live policy (its
    growable KV cache decodes about 2.7 times faster than plain `generate` here, benchmarks/
    engine_throughput.py). TRL passes one prompt per completion (groups already repeated)."""
    from brevity.engines.base import Request
    from brevity.engines.hf import HFEngine

    def rollout(prompts: list[str], trainer) -> dict:
        model = trainer.accelerator.unwrap_model(trainer.model)
        engine = HFEngine.from_model(model, tokenizer, batch_size=len(prompts))
        ids = [tokenizer(p, add_special_tokens=False).input_ids for p in prompts]
        training = model.training
        model.eval()
        comps = engine.complete([Request(tuple(i), max_tokens, temperature=temperature) for i in ids])
        model.train(training)
        return {"prompt_ids": ids, "completion_ids": [c.token_ids for c in comps], "logprobs": None}

    return rollout


def grpo_config(member, out_dir: Path, **overrides):
    """TRL's settings for a member; on the accelerator when there is one (`use_cpu` only without one)."""
    import torch
    from trl import GRPOConfig

    kw = dict(output_dir=str(out_dir), max_steps=member.steps, learning_rate=member.lr, beta=0.0,
              num_generations=member.group_size, per_device_train_batch_size=32, steps_per_generation=4,
              max_completion_length=member.completion_limit, temperature=1.0,
              logging_steps=5, save_strategy="no", report_to=[], seed=0, bf16=False,
              use_cpu=not torch.cuda.is_available(),
              disable_tqdm=True, warmup_steps=5, gradient_checkpointing=False)
    kw.update(overrides)
    return GRPOConfig(**kw)


def train_grpo(member, model, tokenizer, progress=None, checkpoint_dir: Path | None = None, checkpoint_every: int = 0,
               resume: bool = False, **overrides) -> tuple[list, dict]:
    """Train `model` in place with GRPO; returns (the prompts it drew from, stats). With a checkpoint_dir
    and checkpoint_every > 0, TRL saves model, optimizer, scheduler, rng and step there every
    checkpoint_every optimizer steps (all kept), and `resume` continues from the newest (the rollouts' sampling
    seeds are fresh, so a resumed run is not bit-identical to an uninterrupted one)."""
    from transformers import TrainerCallback
    from trl import GRPOTrainer

    class Progress(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if progress:
                progress(state.global_step, None)

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # rollout_func is marked experimental in TRL
    data = rl_dataset(member.recipe, tokenizer)
    saving = checkpoint_dir is not None and checkpoint_every > 0
    if saving:
        # every checkpoint is kept: each is an HF folder (tokenizer included) that `brevity bench` can run,
        # so the number of steps is chosen on validation from one run
        overrides = {"save_strategy": "steps", "save_steps": checkpoint_every, "save_total_limit": None, **overrides}
    with tempfile.TemporaryDirectory() as scratch:  # TRL's output_dir when nothing is checkpointed
        cfg = grpo_config(member, Path(checkpoint_dir if saving else scratch), **overrides)
        trainer = GRPOTrainer(model=model, reward_funcs=make_reward(member.recipe, tokenizer, member.alpha), args=cfg,
                              train_dataset=data, processing_class=tokenizer, callbacks=[Progress()],
                              rollout_func=engine_rollouts(tokenizer, cfg.max_completion_length, cfg.temperature))
        t0 = time.time()
        last = latest_grpo_checkpoint(Path(checkpoint_dir)) if resume and checkpoint_dir else None
        if resume and last is None:
            raise BrevityError(f"--resume: no GRPO checkpoint in {checkpoint_dir}")
        trainer.train(resume_from_checkpoint=str(last) if last else None)
    model.eval()
    log = [{"step": e["step"], **{k: round(v, 4) for k, v in e.items() if isinstance(v, int | float) and k != "step"}}
           for e in trainer.state.log_history]  # restored from the checkpoint too when resumed
    stats = {"train_seconds": round(time.time() - t0, 1), "steps": cfg.max_steps, "lr": cfg.learning_rate,
             "num_generations": cfg.num_generations, "batch_size": cfg.per_device_train_batch_size,
             "steps_per_generation": cfg.steps_per_generation,
             "max_completion_length": cfg.max_completion_length, "beta": cfg.beta,
             "alpha": member.alpha if member.recipe == "l1" else None, "seed": cfg.seed,
             "resumed_from": last.name if last else None, "log": log}
    examples = [(row["prompt"], "") for row in data]
    return examples, stats


def latest_grpo_checkpoint(folder: Path) -> Path | None:
    """TRL's newest `checkpoint-STEP` folder in `folder`, if any."""
    found = sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]) if
                   p.name.split("-")[-1].isdigit() else -1)
    return found[-1] if found else None

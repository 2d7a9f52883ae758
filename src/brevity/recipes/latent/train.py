"""One trainer for the latent family and its baselines, on any HF causal LM whose tokenizer has `<bot>`,
`<eot>` and `<pause>` (the tiny zoo reserves them). Every example is: prompt and `<bot>`, a number of
thought positions, then `<eot>`, what is left of the compact chain, `</think>` and the answer; the loss
covers only what follows `<eot>`. The modes differ in what the thought positions are and in the schedule:

- `compact`: no thoughts, the whole chain (the explicit baseline; Coconut's stage 0).
- `nochain`: no thoughts, no chain: answer directly.
- `coconut` (Hao et al. 2024): at stage k the first k steps become k*c continuous thoughts (the last
  hidden state fed back as the next input embedding); stage 0 is `compact`. With `final_steps` > 0, a
  last stage past the latent ones drops every language step that is left and keeps stages*c thoughts
  (the official `max_latent_stage`: GSM8K trains 3 latent stages, then 13 epochs so).
- `pause-curriculum`: the same curriculum with `<pause>` tokens in the thought positions: the control
  that tells whether the curriculum or the hidden-state feedback does the work.
- `pause` (Goyal et al. 2024): M `<pause>` tokens, no chain, no curriculum.
- `icot` (Deng et al. 2024): stepwise internalization: stage k removes the first k*`remove_per_stage`
  chain tokens, plus a random extra o per example with P(o) proportional to exp(-smoothing*o) (removal
  smoothing); the last stage (`final_steps` long) has no chain, and inference decodes with none. The
  official recipe removes one token at a time (`remove_per_stage` 1), resets the optimizer at each and
  keeps a constant learning rate.
- `codi` (Shen et al. 2025): one model as teacher (compact chain) and student (continuous thoughts
  through a small projection); loss = teacher CE + student CE + `distill` times the smooth-L1 distance
  between their hidden states, at every layer, at the position that predicts the answer's value (teacher
  detached, the distance divided by its std: the official code's default loss and `distill_loss_div_std`).
  No curriculum.
- `aux-sum` (Bai et al. 2025): `nochain`'s answer-only examples plus `aux_weight` times a linear regression of
  the running sums c_hat_k from one layer's attention heads at the answer's digits (recipes/latent/aux.py);
  the regression weights are not part of the saved model.

With `scratch`, the model is the base's architecture freshly initialized (its tokenizer kept) at `layers`
blocks, `heads` heads and `width` hidden units, as the anchors of `aux-sum` and iCoT on 4-by-4 multiplication
train theirs from scratch.

The optimizer is reset at every stage (Coconut, iCoT). Thoughts run on the KV cache, one forward pass
each (`methods/latent.continuous_thoughts`); gradients flow through the whole thought chain.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from brevity.errors import BrevityError
from brevity.formats import load_format
from brevity.manifest import write_manifest
from brevity.methods.latent import continue_with, continuous_thoughts, left_pad, make_projection
from brevity.recipes.latent.data import LatentExample, chain_steps, codi_example, icot_example, latent_example
from brevity.tasks import Problem

MODES = ("compact", "nochain", "coconut", "pause-curriculum", "pause", "icot", "codi", "aux-sum")
INPUTS = {"coconut": "hidden", "pause-curriculum": "pause", "pause": "pause", "codi": "projected"}


@dataclass
class LatentConfig:
    mode: str = "coconut"
    stages: int = 7  # curriculum stages (coconut, pause-curriculum: steps replaced; pause, codi: M = stages*per_step)
    per_step: int = 1  # thoughts per replaced step (the paper's c)
    steps_per_stage: int = 300  # optimizer steps per stage (pause, nochain, codi: stages*steps_per_stage in all)
    stage0_steps: int = 1000  # the full compact chain first (0 when starting from a compact model)
    remove_per_stage: int = 16  # icot: chain tokens removed per stage
    final_steps: int = -1  # the last stage, with no chain left: icot's (-1: steps_per_stage); coconut's and
    # pause-curriculum's after the latent stages, stages*per_step thoughts and no language step (-1: none)
    chain: str = "compact"  # the task's trace style that is the chain (mult: "terse" is iCoT's own format)
    smoothing: float = 4.0  # icot: extra removal o with P(o) proportional to exp(-smoothing*o)
    distill: float = 1.0  # codi: weight of the hidden-state distillation
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0
    width: int = 0  # > 0: the base widened to this hidden size first, outputs unchanged (recipes/widen.py)
    reinit_untrained: bool = False  # fresh embeddings for the task's tokens the base never trained
    lr_schedule: str = "cosine"  # per stage: "cosine" decays to 0 inside each stage, "constant" (official Coconut)
    warmup: int = 20  # linear warm-up steps at the start of each stage
    val_problems: int = 0  # held out from the end of the training problems for a validation loss
    eval_every: int = 0  # steps between validation losses (0: never)
    patience: int = 0  # a stage ends after this many evaluations without a new best (0: runs all its steps)
    checkpoint_every: int = 0  # steps between checkpoints (0: none)
    scratch: bool = False  # the base's architecture freshly initialized (with layers, heads, width), not its weights
    layers: int = 0  # scratch: transformer blocks (0: the base's)
    heads: int = 0  # scratch: attention heads (0: the base's)
    aux_weight: float = 0.01  # aux-sum: the regression's weight against the cross-entropy (the paper's lambda)
    aux_layer: int = -1  # aux-sum: the block whose attention heads are read (-1: the last, as the official model)
    aux_heads: int = 2  # aux-sum: the first this-many heads each get a read-out (the official model: 2)
    aux_at: str = "predict"  # aux-sum: the position that predicts digit k, or the one whose input is digit k
    aux_scale: float = 100.0  # aux-sum: the sums are divided by this before the squared error

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise BrevityError(f"latent mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.stages < 0 or self.per_step < 0 or self.steps_per_stage < 0 or self.stage0_steps < 0:
            raise BrevityError("stages, per_step, steps and stage0 steps must be >= 0")
        if self.remove_per_stage <= 0:
            raise BrevityError("remove_per_stage must be positive")
        if self.width < 0:
            raise BrevityError("width must be >= 0 (0: the base's own)")
        if self.final_steps < -1:
            raise BrevityError("final_steps must be >= 0 (or -1: steps_per_stage)")
        if self.layers < 0 or self.heads < 0:
            raise BrevityError("layers and heads must be >= 0 (0: the base's)")
        if (self.layers or self.heads) and not self.scratch:
            raise BrevityError("layers and heads shape a model trained from scratch: add scratch (--scratch)")
        from brevity.recipes.latent.aux import AT

        if self.aux_at not in AT:
            raise BrevityError(f"aux_at must be one of {', '.join(AT)}, got {self.aux_at!r}")
        if self.aux_weight < 0 or self.aux_scale <= 0 or self.aux_heads < 1:
            raise BrevityError("aux_weight must be >= 0, aux_scale > 0 and aux_heads >= 1")

    @property
    def thoughts(self) -> int:
        """Thought positions at inference."""
        return self.thoughts_at(self.stages)

    def thoughts_at(self, stage: int) -> int:
        """Thought positions of the model after `stage` (a curriculum's stage K replaces K steps)."""
        return 0 if self.mode in ("compact", "nochain", "icot", "aux-sum") else min(stage, self.stages) * self.per_step

    def schedule(self, max_chain_tokens: int = 0) -> list[tuple[int, int]]:
        """(stage, optimizer steps) in order."""
        first = [(0, self.stage0_steps)] if self.stage0_steps else []
        if self.mode == "compact":
            return [(0, self.stage0_steps)]
        if self.mode in ("coconut", "pause-curriculum"):
            final = [(self.stages + 1, self.final_steps)] if self.final_steps > 0 else []
            return first + [(k, self.steps_per_stage) for k in range(1, self.stages + 1)] + final
        if self.mode == "icot":
            n = max(1, math.ceil(max_chain_tokens / self.remove_per_stage))
            last = self.steps_per_stage if self.final_steps < 0 else self.final_steps
            return first + [(k, self.steps_per_stage) for k in range(1, n)] + [(n, last)]
        return [(self.stages, self.stages * self.steps_per_stage)]  # nochain, pause, codi, aux-sum: the final form

    def total_steps(self, max_chain_tokens: int = 0) -> int:
        return sum(n for _, n in self.schedule(max_chain_tokens))


def max_chain_tokens(problems: list[Problem], tokenizer, chain: str = "compact") -> int:
    """The longest chain in tokens (over the first 2,000 problems): iCoT's number of stages."""
    return max(len(tokenizer(" ".join(chain_steps(p, chain)), add_special_tokens=False).input_ids)
               for p in problems[:2000])


def check_chain(problems: list[Problem], chain: str) -> None:
    """Refuse a chain style the task does not write (it would train on empty chains)."""
    if problems and chain not in problems[0].traces:
        raise BrevityError(f"this task has no {chain!r} trace to use as the chain; it has "
                           f"{', '.join(t for t in problems[0].traces if t != 'none')}")


def task_token_ids(problems: list[Problem], tokenizer, chain: str = "compact") -> set[int]:
    """Every token id of the training texts (question, chain, answer) of the first 2,000 problems."""
    texts = [t for p in problems[:2000] for t in (p.question, " ".join(chain_steps(p, chain)), f" {p.answer}")]
    return {i for ids in tokenizer(texts, add_special_tokens=False).input_ids for i in ids}


def mean_row_cosine(emb: torch.Tensor) -> torch.Tensor:
    """Each embedding row's cosine with the mean row: near 1 for rows that drifted only along the shared
    direction (`reinit_untrained`)."""
    return F.normalize(emb.detach(), dim=-1) @ F.normalize(emb.detach().mean(0), dim=0)


def reinit_untrained(model, token_ids: set[int], threshold: float = 0.95) -> list[int]:
    """Re-draw the embedding rows of `token_ids` that the base never trained; return their ids.

    With tied embeddings, every output step pushes the logits of tokens absent from the training data down
    through the same shared direction, so their rows all drift by one vector and end up nearly identical
    (in `tiny-base`, 673 of 841 rows have cosine >= 0.99 with the mean row; the others are at
    most 0.60). Such tokens cannot be told apart as inputs, so a task that must copy them (`graph`'s concept
    names) does not train. A row whose cosine with the mean row reaches `threshold` is redrawn as at
    initialization (normal, std `initializer_range`)."""
    emb = model.get_input_embeddings().weight
    with torch.no_grad():
        cos = mean_row_cosine(emb)
        ids = sorted(i for i in token_ids if cos[i] >= threshold)
        if ids:
            std = getattr(model.config, "initializer_range", 0.02)
            emb[ids] = torch.randn(len(ids), emb.shape[1], generator=torch.Generator().manual_seed(0)) * std
    return ids


def build_examples(cfg: LatentConfig, problems: list[Problem], tokenizer, stage: int, rng: random.Random,
                   last_stage: int) -> list:
    if cfg.mode == "codi":
        return [codi_example(p, tokenizer, cfg.thoughts, cfg.chain) for p in problems]
    if cfg.mode == "icot":
        out = []
        for p in problems:
            extra = 0
            while rng.random() < math.exp(-cfg.smoothing):  # removal smoothing: usually 0, sometimes more
                extra += 1
            removed = 10**9 if stage == last_stage else stage * cfg.remove_per_stage + extra
            out.append(icot_example(p, tokenizer, removed, cfg.chain))
        return out
    if cfg.mode in ("nochain", "pause", "aux-sum"):
        return [latent_example(p, tokenizer, 10**9, cfg.per_step if cfg.mode == "pause" else 0,
                               thoughts=cfg.thoughts if cfg.mode == "pause" else 0, chain=cfg.chain) for p in problems]
    if stage > cfg.stages:  # coconut's final stage: the thoughts of the last latent stage, no language step
        return [latent_example(p, tokenizer, 10**9, cfg.per_step, thoughts=cfg.thoughts, chain=cfg.chain)
                for p in problems]
    return [latent_example(p, tokenizer, stage, cfg.per_step, chain=cfg.chain) for p in problems]


def _rest_batch(batch: list[LatentExample], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(e.rest) for e in batch)
    rest = torch.full((len(batch), width), pad_id, dtype=torch.long, device=device)
    mask = torch.zeros_like(rest)
    for r, e in enumerate(batch):
        rest[r, :len(e.rest)] = torch.tensor(e.rest, device=device)
        mask[r, :len(e.rest)] = 1
    return rest, mask


def latent_forward(model, batch: list[LatentExample], pad_id: int, pause_id: int | None = None, project=None,
                   hidden: bool = False):
    """Logits (and, with `hidden`, every layer's hidden states) over `rest`, after the thoughts; and the
    next-token loss after `<eot>` (a batch's rows all have the same thought count)."""
    ids, mask = left_pad([e.prefix for e in batch], pad_id, model.device)
    state = continuous_thoughts(model, ids, mask, batch[0].thoughts, pause_id=pause_id, project=project)
    rest, rest_mask = _rest_batch(batch, pad_id, model.device)
    out = continue_with(model, state, rest, rest_mask, hidden=hidden)
    # Position t predicts token t+1 of `rest`; the last thought's prediction of <eot> is not trained.
    targets = rest[:, 1:].masked_fill(rest_mask[:, 1:] == 0, -100)
    logits = out.logits
    loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)
    return loss, out


def coconut_loss(model, batch: list[LatentExample], pad_id: int, pause_id: int | None = None) -> torch.Tensor:
    return latent_forward(model, batch, pad_id, pause_id)[0]


def codi_loss(model, project, batch: list, pad_id: int, distill: float) -> torch.Tensor:
    """Teacher CE + student CE + distill * smooth-L1 between the two where the answer's value is predicted,
    over every layer's hidden state; the teacher's side is detached and the distance divided by its std, as in
    CODI's code (zhenyi4/codi, src/model.py: SmoothL1Loss by default)."""
    t_loss, t_out = latent_forward(model, [e.teacher for e in batch], pad_id, hidden=True)
    s_loss, s_out = latent_forward(model, [e.student for e in batch], pad_id, project=project, hidden=True)
    rows = torch.arange(len(batch), device=model.device)
    t_at = torch.tensor([e.teacher_at for e in batch], device=model.device)
    s_at = torch.tensor([e.student_at for e in batch], device=model.device)
    align = 0.0
    layers = t_out.hidden_states[1:]
    for t_h, s_h in zip(layers, s_out.hidden_states[1:]):
        t = t_h[rows, t_at].detach()
        align = align + F.smooth_l1_loss(s_h[rows, s_at], t) / (t.std() + 1e-6)
    return t_loss + s_loss + distill * align / len(layers)


def aux_sum_loss(model, head, batch: list[LatentExample], problems: list[Problem], tokenizer,
                 cfg: LatentConfig) -> torch.Tensor:
    """The answer's cross-entropy plus aux_weight times the running sums' squared error (recipes/latent/aux.py)."""
    from brevity.recipes.latent.aux import aux_loss, aux_targets, head_outputs

    with head_outputs(model, cfg.aux_layer) as store:
        ce, _ = latent_forward(model, batch, tokenizer.pad_token_id)
    targets = aux_targets(problems, tokenizer, [e.rest for e in batch], cfg.aux_at, cfg.aux_scale, model.device)
    return ce + cfg.aux_weight * aux_loss(store["x"], head, cfg.aux_heads, targets)


# Settings added after checkpoints were committed (resume/), with the value that changes nothing: at that value
# they stay out of the fingerprint, so those checkpoints still resume.
NEUTRAL_LATER = {"width": 0, "scratch": False, "layers": 0, "heads": 0, "aux_weight": 0.01, "aux_layer": -1,
                 "aux_heads": 2, "aux_at": "predict", "aux_scale": 100.0}


def fingerprint(cfg: LatentConfig) -> dict:
    """The settings a checkpoint must match to resume."""
    return {k: v for k, v in asdict(cfg).items() if not (k in NEUTRAL_LATER and v == NEUTRAL_LATER[k])}


def train_latent(model, tokenizer, problems: list[Problem], cfg: LatentConfig, progress=None, project=None,
                 stage_done=None, checkpoint_dir=None, resume: bool = False, aux_head=None) -> dict:
    """Train in place through the mode's schedule on the shared training core (recipes/trainer.py);
    `progress(step, loss)` after every optimizer step and `stage_done(stage, stats so far)` after every stage
    but the last (in eval mode, restored after). Checkpoints and `resume` as in `train_sft`. `project` (CODI)
    and `aux_head` (aux-sum) train with the model and are checkpointed with it."""
    from brevity.recipes.trainer import LoopConfig, Stage, TrainLoop

    special = tokenizer.convert_tokens_to_ids(["<bot>", "<eot>", "<pause>"])
    if any(t in (None, tokenizer.unk_token_id) for t in special):
        raise BrevityError("the tokenizer lacks <bot>, <eot> or <pause>; add them (and resize embeddings) first")
    if cfg.val_problems >= len(problems):
        raise BrevityError(f"val_problems ({cfg.val_problems}) leaves no training problems of {len(problems)}")
    check_chain(problems, cfg.chain)
    pause_id = special[2] if INPUTS.get(cfg.mode) == "pause" else None
    plan = cfg.schedule(max_chain_tokens(problems, tokenizer, cfg.chain) if cfg.mode == "icot" else 0)
    train = problems[:len(problems) - cfg.val_problems]
    held = problems[len(problems) - cfg.val_problems:] if cfg.val_problems else []
    last_stage = plan[-1][0]
    stage_of = {f"stage-{k}": k for k, _ in plan}
    loop_cfg = LoopConfig(lr=cfg.lr, warmup=cfg.warmup, schedule=cfg.lr_schedule, weight_decay=0.01, seed=cfg.seed,
                          eval_every=cfg.eval_every, patience=cfg.patience, checkpoint_every=cfg.checkpoint_every,
                          reset_optimizer=True)  # reset at every stage (Coconut, iCoT)
    if cfg.mode == "aux-sum" and aux_head is None:
        raise BrevityError("aux-sum trains a running-sum read-out with the model: pass aux_head")
    extra = [m for m in (project, aux_head) if m is not None]
    loop = TrainLoop([model, *extra], [Stage(f"stage-{k}", n) for k, n in plan], loop_cfg, checkpoint_dir, resume,
                     fingerprint={"latent": fingerprint(cfg), "problems": len(problems)})
    model = loop.modules[0]
    project = loop.modules[1] if project is not None else None
    aux_head = loop.modules[-1] if aux_head is not None else None

    def batch_loss(batch, chosen: list[Problem]) -> torch.Tensor:
        if cfg.mode == "codi":
            return codi_loss(model, project, batch, tokenizer.pad_token_id, cfg.distill)
        if cfg.mode == "aux-sum":
            return aux_sum_loss(model, aux_head, batch, chosen, tokenizer, cfg)
        return coconut_loss(model, batch, tokenizer.pad_token_id, pause_id)

    def loss_fn(stage, rng) -> torch.Tensor:
        k = stage_of[stage.name]
        chosen = rng.sample(train, min(cfg.batch_size, len(train)))
        return batch_loss(build_examples(cfg, chosen, tokenizer, k, rng, last_stage), chosen)

    def val_fn(stage) -> float:
        """Mean loss over the held-out problems, built as the stage trains them (a fixed rng)."""
        k, rng, total = stage_of[stage.name], random.Random(f"{cfg.seed}/val"), 0.0
        for i in range(0, len(held), cfg.batch_size):
            part = held[i:i + cfg.batch_size]
            total += batch_loss(build_examples(cfg, part, tokenizer, k, rng, last_stage), part).item() * len(part)
        return total / len(held)

    done = None
    if stage_done is not None:
        def done(index: int, stats: dict) -> None:
            k = plan[index][0]
            if k != last_stage:
                stage_done(k, _latent_stats(stats, plan, cfg))
    loop.run(loss_fn, val_fn if held else None, progress, done)
    loop.clear()
    return _latent_stats(loop.stats(), plan, cfg)


def _latent_stats(stats: dict, plan, cfg: LatentConfig) -> dict:
    """The manifest's training block: the core's stats with stage losses keyed by stage number."""
    losses = {int(name.split("-")[1]): v for name, v in stats["stage_final_loss"].items()}
    return {"train_seconds": stats["train_seconds"], "steps": stats["steps"],
            "examples_seen": stats["steps"] * cfg.batch_size, "stage_final_loss": losses,
            "schedule": plan, "config": asdict(cfg),
            **({"val_loss": stats["val"], "history": stats["history"]} if cfg.eval_every else {})}


def build_latent(base, task, out, cfg: LatentConfig, n_train: int, ui=None, command: str = "", progress=None,
                 save_stages: bool = False, resume: bool = False):
    """Train from `base` (an HF folder) on `n_train` training problems of `task`; save an HF folder whose
    manifest's `latent` block tells the `coconut` method how to decode it (thought count and input kind),
    plus `codi_projection.safetensors` for CODI. Progress goes to a bar of `ui` sized to the schedule, or
    to `progress(step, loss)` (`brevity zoo build`, whose bar the member's step count sizes). With
    `save_stages`, the model after each curriculum stage but the last is saved too, as `out/stage-K`:
    the points between the compact chain and the final latent model, decoded the same way."""
    from pathlib import Path

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from brevity.recipes.sft import data_hash
    from brevity.tasks import load_problems

    base, out = Path(base), Path(out)
    tok = AutoTokenizer.from_pretrained(base)
    if cfg.width and not cfg.scratch:
        from transformers import AutoConfig

        from brevity.recipes.widen import check_width

        check_width(AutoConfig.from_pretrained(base), cfg.width)
    if cfg.scratch:
        model = scratch_model(base, cfg)
    else:
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32, use_safetensors=True)
    if cfg.width and not cfg.scratch:  # before a resumed checkpoint's weights are loaded into it
        from brevity.recipes.widen import widen

        model = widen(model, cfg.width, cfg.seed)
    project = make_projection(model.config.hidden_size) if cfg.mode == "codi" else None
    problems = load_problems(task.name, split="train", n=n_train, **dict(task.params))
    check_chain(problems, cfg.chain)
    aux_head = None
    if cfg.mode == "aux-sum":
        from brevity.recipes.latent.aux import RunningSumHead, attention_layer, digit_positions

        attention_layer(model, cfg.aux_layer)  # a layer out of range fails here, before any training
        heads = model.config.num_attention_heads
        if cfg.aux_heads > heads:
            raise BrevityError(f"aux_heads {cfg.aux_heads}: the model has {heads} attention heads")
        digit_positions(problems[0], tok, latent_example(problems[0], tok, 10**9, 0, 0, cfg.chain).rest)
        torch.manual_seed(cfg.seed)
        aux_head = RunningSumHead(cfg.aux_heads, model.config.hidden_size // heads)
    if cfg.reinit_untrained:
        fresh = reinit_untrained(model, task_token_ids(problems, tok, cfg.chain))
    total = cfg.total_steps(max_chain_tokens(problems, tok, cfg.chain) if cfg.mode == "icot" else 0)
    data = {"task": task.as_dict(), "split": "train", "examples": len(problems), "chain": cfg.chain,
            "hash": data_hash([(p.question, p.traces.get(cfg.chain, "")) for p in problems])}
    if cfg.reinit_untrained:
        data["reinitialized_rows"] = len(fresh)  # the manifest keeps how many rows were redrawn

    def save(folder: Path, stats: dict, stage: int | None = None) -> None:
        _save_latent(folder, model, tok, project, base, data, cfg, stats, command, stage)

    stage_done = (lambda stage, stats: save(out / f"stage-{stage}", stats, stage)) if save_stages else None
    ckpt = out / "checkpoints"
    if ui is None:
        stats = train_latent(model, tok, problems, cfg, progress, project, stage_done, ckpt, resume, aux_head)
    else:
        with ui.task(f"{cfg.mode} {out.name}", total=total) as advance:
            stats = train_latent(model, tok, problems, cfg, lambda step, loss: advance(1), project, stage_done,
                                 ckpt, resume, aux_head)
    save(out, stats)
    return out


def scratch_model(base, cfg: LatentConfig):
    """The base's architecture at `layers` blocks, `heads` heads (key-value heads as many) and `width` hidden
    units (the MLP at the base's ratio), freshly initialized with `seed`; the base's vocabulary and tokenizer."""
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(base)
    width = cfg.width or config.hidden_size
    heads = cfg.heads or config.num_attention_heads
    if width % heads:
        raise BrevityError(f"width {width} is not a multiple of {heads} heads")
    ratio = config.intermediate_size / config.hidden_size
    config.num_hidden_layers = cfg.layers or config.num_hidden_layers
    config.num_attention_heads = config.num_key_value_heads = heads
    config.hidden_size, config.intermediate_size = width, round(ratio * width)
    config.head_dim = width // heads
    if getattr(config, "layer_types", None):
        config.layer_types = config.layer_types[:1] * config.num_hidden_layers
    torch.manual_seed(cfg.seed)
    return AutoModelForCausalLM.from_config(config, dtype=torch.float32)


def _save_latent(out, model, tok, project, base, data: dict, cfg: LatentConfig, stats: dict, command: str,
                 stage: int | None) -> None:
    """The HF folder, CODI's projection and the manifest; `stage`: an intermediate curriculum stage, whose
    thought count is the stage's (icot: none) and whose manifest says which stage it is."""
    import sys

    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    if project is not None:
        weights = {k: v.contiguous() for k, v in project.state_dict().items()}
        save_file(weights, str(out / "codi_projection.safetensors"))
    thoughts = cfg.thoughts if stage is None else cfg.thoughts_at(stage)
    manifest = {"name": out.name if stage is None else f"{out.parent.name}/{out.name}", "parent": base.name,
                "format": load_format(base).name,
                "recipe": cfg.mode, "command": command,
                "data": data,
                "latent": {"method": cfg.mode, "thoughts": thoughts, "per_step": cfg.per_step,
                           "input": INPUTS.get(cfg.mode, "none"), **({"stage": stage} if stage is not None else {})},
                "params": sum(p.numel() for p in model.parameters()), "train": stats,
                "python": sys.version.split()[0], "torch": torch.__version__}
    write_manifest(out, manifest)

"""`brevity train RECIPE`: one subcommand per recipe, each with only the options its recipe reads. An option that
another recipe reads is refused by name, with the recipes that take it, so no option is ever silently ignored.

Recipes are found through the registry: the built-ins below and the `brevity.recipes` entry points of installed
packages (a typer-style command function, loaded when it is listed or run)."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperCommand, TyperGroup

from brevity.errors import BrevityError
from brevity.registry import entry_refs, load_ref

try:  # typer 0.29 vendors click; its parser raises the vendored exceptions
    from typer._click.exceptions import NoSuchOption
except ImportError:  # pragma: no cover  (an older typer, on the installed click)
    from click.exceptions import NoSuchOption


class Schedule(StrEnum):
    """The learning-rate schedules of the training loops (recipes.trainer.SCHEDULES)."""
    cosine = "cosine"
    constant = "constant"


def _positive(value: float | None) -> float | None:
    if value is not None and value <= 0:
        raise typer.BadParameter(f"must be positive, got {value}")
    return value


# Each option is declared once; a recipe's command lists the ones its recipe reads.
Out = Annotated[Path, typer.Option(help="Folder to write the trained HF model into (new or empty; --resume: the "
                                        "stopped run's).")]
Base = Annotated[str, typer.Option(help="Parent model: zoo name or HF folder (rl-length, and l1 with "
                                        "--warmup-steps 0: any format; the other recipes write zoo-format text).")]
Steps = Annotated[int | None, typer.Option(min=1, help="Training steps (default: the zoo member made by this "
                                                       "recipe).")]
Lr = Annotated[float | None, typer.Option(callback=_positive, help="Learning rate (default: the zoo member's; "
                                                                  "latent: 1e-3).")]
Resume = Annotated[bool, typer.Option(help="Continue a stopped run from its last checkpoint in OUT/checkpoints "
                                           "(same settings).")]
CheckpointEvery = Annotated[int | None, typer.Option(min=0, help="Optimizer steps between checkpoints (0: none; "
                                                                 "default 200, GRPO recipes 20).")]
LrSchedule = Annotated[Schedule, typer.Option(help="cosine (to 0 over each stage) or constant after warm-up.")]
EvalEvery = Annotated[int, typer.Option(min=0, help="Steps between validation losses on a held-out slice "
                                                    "(0: never; needs --val).")]
Val = Annotated[int, typer.Option(min=0, help="Examples (latent: problems) held out for the validation loss.")]
Patience = Annotated[int, typer.Option(min=0, help="End a stage after this many validation losses without a new "
                                                   "best (0: run every step).")]
LoraRank = Annotated[int | None, typer.Option(min=0, help="Train LoRA adapters of this rank (peft), merged into "
                                                          "the saved weights (0: full fine-tuning; default: the zoo "
                                                          "member's, 8 for tokenskip, else 0).")]
Questions = Annotated[int | None, typer.Option(min=1, help="Train questions rolled out (default: the zoo "
                                                           "member's).")]
Conditions = Annotated[str, typer.Option(help="Comma-separated method specs (e.g. tale-ep); each adds the "
                                              "sampler's trace under that method to every question's candidates.")]
Sampler = Annotated[str | None, typer.Option(help="The model that writes the --conditions traces (zoo name or HF "
                                                  "folder; default: --base).")]
GroupSize = Annotated[int | None, typer.Option(min=2, help="Samples per question in GRPO (default 8; the length "
                                                           "reward compares them).")]
CompletionLimit = Annotated[int | None, typer.Option(min=1, help="The longest completion sampled, in tokens "
                                                                 "(default 448).")]
Rollouts = Annotated[int | None, typer.Option(min=1, help="Traces per question: the parent's greedy one and "
                                                         "N-1 samples (default: the zoo member's, 4).")]
Alpha = Annotated[float | None, typer.Option(min=0.0, help="Reward lost per token of distance from the requested "
                                                           "length (L1's alpha; default: the zoo member's, 0.1).")]
WarmupSteps = Annotated[int | None, typer.Option(min=0, help="SFT warm-start steps before GRPO (default: the zoo "
                                                             "member's; 0 skips it).")]
# the latent recipes
Task = Annotated[str, typer.Option(help="The task whose compact chains the recipe internalizes.")]
NTrain = Annotated[int, typer.Option(min=1, help="Training problems.")]
Stages = Annotated[int, typer.Option(min=0, help="Curriculum stages (steps replaced by thoughts); pause, codi and "
                                                 "nochain use stages x per-step thoughts (nochain: none).")]
LatentSteps = Annotated[int, typer.Option(min=1, help="Optimizer steps per stage (pause, nochain, codi: stages x "
                                                      "steps in all).")]
PerStep = Annotated[int, typer.Option(min=1, help="Thoughts per replaced step (Coconut's c).")]
Stage0Steps = Annotated[int, typer.Option(min=0, help="Steps on the full compact chain first (0 when --base "
                                                      "already is a compact model).")]
RemovePerStage = Annotated[int, typer.Option(min=1, help="Chain tokens removed per stage (the official recipe: "
                                                         "1).")]
FinalSteps = Annotated[int | None, typer.Option(min=0, help="icot: steps of the last stage, with no chain left "
                                                            "(default: --steps). coconut, pause-curriculum: a last "
                                                            "stage past the latent ones with no language step left "
                                                            "(default: none).")]
Smoothing = Annotated[float | None, typer.Option(callback=_positive, help="Removal smoothing lambda; an example "
                                                                          "loses o more tokens with P(o) "
                                                                          "proportional to exp(-lambda*o) "
                                                                          "(default 4).")]
Chain = Annotated[str, typer.Option(help="The task's trace style used as the chain (mult: terse is iCoT's own "
                                         "format, a third of compact's tokens).")]
Warmup = Annotated[int | None, typer.Option(min=0, help="Linear warm-up steps at the start of each stage "
                                                        "(default 20).")]
Width = Annotated[int, typer.Option(min=0, help="Widen --base to this hidden size before training, its outputs "
                                                "unchanged (new heads and MLP units at the base's sizes; 0: keep "
                                                "it).")]
SaveStages = Annotated[bool, typer.Option(help="Also save the model after each stage but the last, as "
                                               "OUT/stage-K.")]
Scratch = Annotated[bool, typer.Option(help="Train the base's architecture from scratch (its tokenizer kept), shaped "
                                            "by --layers, --heads and --width, instead of its weights.")]
Layers = Annotated[int, typer.Option(min=0, help="--scratch: transformer blocks (0: the base's).")]
Heads = Annotated[int, typer.Option(min=0, help="--scratch: attention heads (0: the base's).")]
AuxWeight = Annotated[float, typer.Option(min=0.0, help="Weight of the running-sum regression against the "
                                                        "cross-entropy (the paper's lambda).")]
AuxLayer = Annotated[int, typer.Option(help="The block whose attention heads are read (-1: the last).")]
AuxHeads = Annotated[int, typer.Option(min=1, help="Heads that each get a read-out (the first N).")]
AuxAt = Annotated[str, typer.Option(help="predict: the position that predicts digit k; input: the one that reads "
                                         "it.")]
AuxScale = Annotated[float, typer.Option(callback=_positive, help="The running sums are divided by this before "
                                                                  "the squared error.")]
ReinitUntrained = Annotated[bool, typer.Option(help="Redraw the embeddings of the task's tokens that --base never "
                                                    "trained (rows collapsed onto one direction).")]


def _command_line() -> str:
    return " ".join(["brevity", *sys.argv[1:]])


def _check_out(out: Path, resume: bool) -> None:
    """A new run needs an empty --out; --resume needs the checkpoints of a stopped one there."""
    from brevity.zoo.build import has_checkpoint

    if resume and not has_checkpoint(out):
        raise BrevityError(f"--resume: no checkpoint in {out / 'checkpoints'}; start without --resume")
    if not resume and out.exists() and any(out.iterdir()):
        raise BrevityError(f"{out} exists and is not empty; choose a new --out (or --resume a stopped run)")


def _check_loop(eval_every: int, val: int, patience: int) -> None:
    if bool(eval_every) != bool(val):
        raise BrevityError("--eval-every and --val go together: a validation loss needs held-out examples")
    if patience and not eval_every:
        raise BrevityError("--patience ends a stage on validation: give --eval-every and --val too")


def roll_out_parent(ui, member, parent: Path) -> None:
    """Self-training recipes roll the parent out first, with their own bar (cached for the recipe)."""
    if member.recipe in ("tokenskip", "shortest"):
        from brevity.zoo.build import parent_rollouts

        with ui.task(f"rollouts of {parent.name}", total=member.rollout_problems * member.rollout_k) as advance:
            parent_rollouts(parent, member.rollout_problems, member.rollout_k, progress=advance)


def _explicit(recipe: str, out: Path, base: str, steps: int | None, lr: float | None, resume: bool,
              checkpoint_every: int | None, loop: dict, **member: object) -> None:
    """Train `recipe` from `base` with its zoo member's settings, overridden by the given ones (None: keep)."""
    import dataclasses

    from brevity.zoo.build import check_base_format, train_member
    from brevity.zoo.build import checkpoint_every as default_every
    from brevity.zoo.registry import MEMBERS, resolve_model

    _check_loop(loop.get("eval_every", 0), loop.get("val_examples", 0), loop.get("patience", 0))
    _check_out(out, resume)
    template = next(m for m in MEMBERS.values() if m.recipe == recipe)  # the first holds the defaults
    parent = resolve_model(base)
    member = dataclasses.replace(template, steps=steps or template.steps, lr=lr or template.lr,
                                 **{k: v for k, v in member.items() if v is not None})
    check_base_format(recipe, parent, member.warmup_steps)  # before any rollout
    from brevity.ui import ProgressUI, console

    ui = ProgressUI()
    roll_out_parent(ui, member, parent)
    every = default_every(recipe) if checkpoint_every is None else checkpoint_every
    with ui.task(f"{recipe} {out.name}", total=member.steps + member.warmup_steps) as advance:
        train_member(member, parent, out, progress=lambda step, loss: advance(1), command=_command_line(),
                     resume=resume, loop={"checkpoint_every": every, **{k: v for k, v in loop.items()
                                                                         if v is not None}})
    console.print(f"wrote {out} (manifest.json has the settings); bench it with --methods cot@{out}")


def _sft_loop(lr_schedule: Schedule, eval_every: int, val: int, patience: int, lora_rank: int | None) -> dict:
    return {"lr_schedule": lr_schedule.value, "eval_every": eval_every, "val_examples": val, "patience": patience,
            "lora_rank": lora_rank}


def instruct(out: Out, base: Base = "tiny-lrm", steps: Steps = None, lr: Lr = None,
             lora_rank: LoraRank = None, lr_schedule: LrSchedule = Schedule.cosine, eval_every: EvalEvery = 0,
             val: Val = 0, patience: Patience = 0, checkpoint_every: CheckpointEvery = None,
             resume: Resume = False) -> None:
    """SFT on the instruct mix: thinking and no-thinking turns, some thinking cut by a budget."""
    _explicit("instruct", out, base, steps, lr, resume, checkpoint_every,
              _sft_loop(lr_schedule, eval_every, val, patience, lora_rank))


def tokenskip(out: Out, base: Base = "tiny-lrm", steps: Steps = None, lr: Lr = None, questions: Questions = None,
              lora_rank: LoraRank = None, lr_schedule: LrSchedule = Schedule.cosine, eval_every: EvalEvery = 0,
              val: Val = 0, patience: Patience = 0, checkpoint_every: CheckpointEvery = None,
              resume: Resume = False) -> None:
    """TokenSkip: the parent's own traces with low-information words removed at a requested ratio."""
    _explicit("tokenskip", out, base, steps, lr, resume, checkpoint_every,
              _sft_loop(lr_schedule, eval_every, val, patience, lora_rank), rollout_problems=questions)


def shortest(out: Out, base: Base = "tiny-lrm", steps: Steps = None, lr: Lr = None, questions: Questions = None,
             rollouts: Rollouts = None, conditions: Conditions = "", sampler: Sampler = None,
             lora_rank: LoraRank = None, lr_schedule: LrSchedule = Schedule.cosine, eval_every: EvalEvery = 0,
             val: Val = 0, patience: Patience = 0, checkpoint_every: CheckpointEvery = None,
             resume: Resume = False) -> None:
    """Self-training on the shortest correct of the parent's own traces (and, with --conditions, prompted ones)."""
    from brevity.methods import build_method
    from brevity.zoo.registry import resolve_model

    specs = tuple(c.strip() for c in conditions.split(",") if c.strip())
    if sampler and not specs:
        raise BrevityError("--sampler writes the --conditions traces; give --conditions too")
    for spec in specs:
        build_method(spec)  # a bad spec fails here, before any rollout
    _explicit("shortest", out, base, steps, lr, resume, checkpoint_every,
              _sft_loop(lr_schedule, eval_every, val, patience, lora_rank), rollout_problems=questions,
              rollout_k=rollouts, conditions=specs or None, sampler=str(resolve_model(sampler)) if sampler else None)


def rl_length(out: Out, base: Base = "tiny-lrm", steps: Steps = None, lr: Lr = None,
              group_size: GroupSize = None, completion_limit: CompletionLimit = None,
              checkpoint_every: CheckpointEvery = None, resume: Resume = False) -> None:
    """GRPO with correctness plus Kimi k1.5's group length reward (TRL's schedule, every weight trained)."""
    _explicit("rl-length", out, base, steps, lr, resume, checkpoint_every, {}, group_size=group_size,
              completion_limit=completion_limit)


def l1(out: Out, base: Base = "tiny-lrm", steps: Steps = None, lr: Lr = None, warmup_steps: WarmupSteps = None,
       alpha: Alpha = None, group_size: GroupSize = None, completion_limit: CompletionLimit = None,
       lora_rank: LoraRank = None, lr_schedule: LrSchedule = Schedule.cosine, eval_every: EvalEvery = 0,
       val: Val = 0, patience: Patience = 0, checkpoint_every: CheckpointEvery = None, resume: Resume = False) -> None:
    """L1: an SFT warm start on length-obeying traces, then GRPO that rewards obeying the requested length. The
    SFT options (--lora-rank, --lr-schedule, --eval-every, --val, --patience) shape the warm start."""
    if warmup_steps == 0 and (lora_rank or eval_every or patience or lr_schedule != Schedule.cosine):
        raise BrevityError("--lora-rank, --lr-schedule, --eval-every and --patience shape l1's SFT warm start; with "
                           "--warmup-steps 0 there is no warm start (GRPO trains every weight)")
    _explicit("l1", out, base, steps, lr, resume, checkpoint_every,
              _sft_loop(lr_schedule, eval_every, val, patience, lora_rank), warmup_steps=warmup_steps,
              alpha=alpha, group_size=group_size, completion_limit=completion_limit)


def _latent(mode: str, out: Path, base: str, task: str, n_train: int, lr: float | None, chain: str,
            warmup: int | None, width: int, reinit_untrained: bool, lr_schedule: Schedule, eval_every: int, val: int,
            patience: int, checkpoint_every: int | None, resume: bool, save_stages: bool = False,
            **schedule: int | float | None) -> None:
    """Train the latent recipe `mode` (recipes/latent/train.py); `schedule`: the LatentConfig fields the recipe
    reads (None: the default)."""
    from brevity.spec import parse_task
    from brevity.recipes.latent.train import LatentConfig, build_latent
    from brevity.zoo.build import check_base_format
    from brevity.zoo.build import checkpoint_every as default_every
    from brevity.zoo.registry import resolve_model

    _check_loop(eval_every, val, patience)
    _check_out(out, resume)
    settings = {k: v for k, v in schedule.items() if v is not None}
    cfg = LatentConfig(mode=mode, lr=lr or 1e-3, reinit_untrained=reinit_untrained, lr_schedule=lr_schedule.value,
                       eval_every=eval_every, val_problems=val, patience=patience, chain=chain, width=width,
                       checkpoint_every=default_every(mode) if checkpoint_every is None else checkpoint_every,
                       **settings, **({} if warmup is None else {"warmup": warmup}))
    parent, task_spec = resolve_model(base), parse_task(task)
    check_base_format(mode, parent)
    from brevity.ui import ProgressUI, console

    build_latent(parent, task_spec, out, cfg, n_train, ui=ProgressUI(), command=_command_line(),
                 save_stages=save_stages, resume=resume)
    if reinit_untrained:
        from brevity.manifest import read_manifest

        console.print(f"redrew {read_manifest(out)['data']['reinitialized_rows']} untrained embedding rows of the "
                      "task's tokens")
    console.print(f"wrote {out}; bench it with --task {task} --methods coconut@{out}")


def _curriculum(mode: str, stages: int, stage0_steps: int, final_steps: int | None) -> dict:
    if stages + stage0_steps == 0:
        raise BrevityError(f"--stages and --stage0-steps are both 0: {mode} would train nothing")
    return {"stages": stages, "stage0_steps": stage0_steps, "final_steps": final_steps}


def coconut(out: Out, base: Base = "tiny-lrm", task: Task = "arith", n_train: NTrain = 20000, stages: Stages = 7,
            per_step: PerStep = 1, steps: LatentSteps = 300, stage0_steps: Stage0Steps = 1000,
            final_steps: FinalSteps = None, lr: Lr = None, chain: Chain = "compact", warmup: Warmup = None,
            width: Width = 0, reinit_untrained: ReinitUntrained = False, save_stages: SaveStages = False,
            lr_schedule: LrSchedule = Schedule.cosine, eval_every: EvalEvery = 0, val: Val = 0,
            patience: Patience = 0, checkpoint_every: CheckpointEvery = None, resume: Resume = False) -> None:
    """Coconut: stage K replaces the chain's first K steps by K x per-step continuous thoughts (the last hidden
    state fed back as the next input). With --stages 0: only the compact chain."""
    _latent("coconut", out, base, task, n_train, lr, chain, warmup, width, reinit_untrained, lr_schedule,
            eval_every, val, patience, checkpoint_every, resume, save_stages, per_step=per_step,
            steps_per_stage=steps, **_curriculum("coconut", stages, stage0_steps, final_steps))


def pause_curriculum(out: Out, base: Base = "tiny-lrm", task: Task = "arith", n_train: NTrain = 20000,
                     stages: Stages = 7, per_step: PerStep = 1, steps: LatentSteps = 300,
                     stage0_steps: Stage0Steps = 1000, final_steps: FinalSteps = None, lr: Lr = None,
                     chain: Chain = "compact", warmup: Warmup = None, width: Width = 0,
                     reinit_untrained: ReinitUntrained = False, save_stages: SaveStages = False,
                     lr_schedule: LrSchedule = Schedule.cosine, eval_every: EvalEvery = 0, val: Val = 0,
                     patience: Patience = 0, checkpoint_every: CheckpointEvery = None,
                     resume: Resume = False) -> None:
    """Coconut's curriculum with pause tokens in place of the continuous thoughts (its ablation)."""
    _latent("pause-curriculum", out, base, task, n_train, lr, chain, warmup, width, reinit_untrained, lr_schedule,
            eval_every, val, patience, checkpoint_every, resume, save_stages, per_step=per_step,
            steps_per_stage=steps, **_curriculum("pause-curriculum", stages, stage0_steps, final_steps))


def icot(out: Out, base: Base = "tiny-lrm", task: Task = "arith", n_train: NTrain = 20000, steps: LatentSteps = 300,
         stage0_steps: Stage0Steps = 1000, remove_per_stage: RemovePerStage = 16, final_steps: FinalSteps = None,
         smoothing: Smoothing = None, lr: Lr = None, chain: Chain = "compact", warmup: Warmup = None,
         width: Width = 0, reinit_untrained: ReinitUntrained = False, save_stages: SaveStages = False,
         lr_schedule: LrSchedule = Schedule.cosine, eval_every: EvalEvery = 0, val: Val = 0,
         patience: Patience = 0, checkpoint_every: CheckpointEvery = None, resume: Resume = False,
         scratch: Scratch = False, layers: Layers = 0, heads: Heads = 0) -> None:
    """Implicit CoT by stepwise internalization: each stage removes chain tokens from the front until none are
    left."""
    _latent("icot", out, base, task, n_train, lr, chain, warmup, width, reinit_untrained, lr_schedule, eval_every,
            val, patience, checkpoint_every, resume, save_stages, steps_per_stage=steps, stage0_steps=stage0_steps,
            remove_per_stage=remove_per_stage, final_steps=final_steps, smoothing=smoothing, scratch=scratch,
            layers=layers, heads=heads)


def pause(out: Out, base: Base = "tiny-lrm", task: Task = "arith", n_train: NTrain = 20000, stages: Stages = 7,
          per_step: PerStep = 1, steps: LatentSteps = 300, lr: Lr = None, chain: Chain = "compact",
          warmup: Warmup = None, width: Width = 0, reinit_untrained: ReinitUntrained = False,
          lr_schedule: LrSchedule = Schedule.cosine, eval_every: EvalEvery = 0, val: Val = 0,
          patience: Patience = 0, checkpoint_every: CheckpointEvery = None, resume: Resume = False) -> None:
    """Pause tokens: stages x per-step pause positions before the answer, no chain, one stage."""
    _latent("pause", out, base, task, n_train, lr, chain, warmup, width, reinit_untrained, lr_schedule, eval_every,
            val, patience, checkpoint_every, resume, stages=stages, per_step=per_step, steps_per_stage=steps)


def codi(out: Out, base: Base = "tiny-lrm", task: Task = "arith", n_train: NTrain = 20000, stages: Stages = 7,
         per_step: PerStep = 1, steps: LatentSteps = 300, lr: Lr = None, chain: Chain = "compact",
         warmup: Warmup = None, width: Width = 0, reinit_untrained: ReinitUntrained = False,
         lr_schedule: LrSchedule = Schedule.cosine, eval_every: EvalEvery = 0, val: Val = 0,
         patience: Patience = 0, checkpoint_every: CheckpointEvery = None, resume: Resume = False) -> None:
    """CODI: stages x per-step projected continuous thoughts, distilled from the same model reading the chain."""
    _latent("codi", out, base, task, n_train, lr, chain, warmup, width, reinit_untrained, lr_schedule, eval_every,
            val, patience, checkpoint_every, resume, stages=stages, per_step=per_step, steps_per_stage=steps)


def nochain(out: Out, base: Base = "tiny-lrm", task: Task = "arith", n_train: NTrain = 20000, stages: Stages = 7,
            steps: LatentSteps = 300, lr: Lr = None, chain: Chain = "compact", warmup: Warmup = None,
            width: Width = 0, reinit_untrained: ReinitUntrained = False, lr_schedule: LrSchedule = Schedule.cosine,
            eval_every: EvalEvery = 0, val: Val = 0, patience: Patience = 0,
            checkpoint_every: CheckpointEvery = None, resume: Resume = False, scratch: Scratch = False,
            layers: Layers = 0, heads: Heads = 0) -> None:
    """The no-chain baseline: the answer right after the question, for stages x steps."""
    _latent("nochain", out, base, task, n_train, lr, chain, warmup, width, reinit_untrained, lr_schedule,
            eval_every, val, patience, checkpoint_every, resume, stages=stages, steps_per_stage=steps,
            scratch=scratch, layers=layers, heads=heads)


def aux_sum(out: Out, base: Base = "tiny-lrm", task: Task = "mult:order=lsd", n_train: NTrain = 20000,
            stages: Stages = 1, steps: LatentSteps = 300, lr: Lr = None, warmup: Warmup = None, width: Width = 0,
            lr_schedule: LrSchedule = Schedule.cosine, eval_every: EvalEvery = 0, val: Val = 0,
            patience: Patience = 0, checkpoint_every: CheckpointEvery = None, resume: Resume = False,
            scratch: Scratch = False, layers: Layers = 0, heads: Heads = 0, aux_weight: AuxWeight = 0.01,
            aux_layer: AuxLayer = -1, aux_heads: AuxHeads = 2, aux_at: AuxAt = "predict",
            aux_scale: AuxScale = 100.0) -> None:
    """The running-sum auxiliary loss (Bai et al. 2025): answer-only training on mult:order=lsd plus a linear
    regression of the running sums from one layer's attention heads at the answer's digits; the regression is
    dropped from the saved model. Trains stages x steps."""
    _latent("aux-sum", out, base, task, n_train, lr, "compact", warmup, width, False, lr_schedule, eval_every, val,
            patience, checkpoint_every, resume, stages=stages, steps_per_stage=steps, scratch=scratch,
            layers=layers, heads=heads, aux_weight=aux_weight, aux_layer=aux_layer, aux_heads=aux_heads,
            aux_at=aux_at, aux_scale=aux_scale)


def compact(out: Out, base: Base = "tiny-lrm", task: Task = "arith", n_train: NTrain = 20000,
            stage0_steps: Stage0Steps = 1000, lr: Lr = None, chain: Chain = "compact", warmup: Warmup = None,
            width: Width = 0, reinit_untrained: ReinitUntrained = False, lr_schedule: LrSchedule = Schedule.cosine,
            eval_every: EvalEvery = 0, val: Val = 0, patience: Patience = 0,
            checkpoint_every: CheckpointEvery = None, resume: Resume = False) -> None:
    """The compact-chain baseline (and the latent recipes' stage 0): the whole chain, for --stage0-steps."""
    if stage0_steps == 0:
        raise BrevityError("--stage0-steps 0: compact would train nothing")
    _latent("compact", out, base, task, n_train, lr, chain, warmup, width, reinit_untrained, lr_schedule,
            eval_every, val, patience, checkpoint_every, resume, stage0_steps=stage0_steps)


BUILTIN = {name: f"{__name__}:{fn.__name__}" for name, fn in {
    "instruct": instruct, "tokenskip": tokenskip, "shortest": shortest, "rl-length": rl_length, "l1": l1,
    "coconut": coconut, "pause-curriculum": pause_curriculum, "icot": icot, "pause": pause, "codi": codi,
    "nochain": nochain, "compact": compact, "aux-sum": aux_sum}.items()}


def recipes() -> dict[str, str]:
    """Every recipe's name -> "module:command": the built-ins, then the installed packages' (`brevity.recipes`)."""
    return {**BUILTIN, **entry_refs(BUILTIN, "brevity.recipes", "recipe")}


class RecipeCommand(TyperCommand):
    """A recipe's command: an option it does not read, but another recipe does, is refused naming those."""

    def parse_args(self, ctx, args):
        try:
            return super().parse_args(ctx, args)
        except NoSuchOption as e:
            takers = [name for name in ctx.parent.command.list_commands(ctx.parent)
                      if any(e.option_name in p.opts for p in ctx.parent.command.get_command(ctx.parent, name).params)]
            if takers:
                e.possibilities = None
                e.message = (f"{e.option_name} is not an option of {self.name}; recipes that read it: "
                             f"{', '.join(takers)}")
            raise


class RecipeGroup(TyperGroup):
    """`brevity train`: its subcommands come from the recipe registry, each loaded when listed or run."""

    def list_commands(self, ctx) -> list[str]:
        return list(recipes())

    def get_command(self, ctx, name: str):
        ref = recipes().get(name)
        if ref is None:
            return None
        one = typer.Typer()
        one.command(name, cls=RecipeCommand)(load_ref(ref, "recipe", name))
        return typer.main.get_command(one)


train_app = typer.Typer(cls=RecipeGroup, no_args_is_help=True,
                        help="Fine-tune a model with a recipe; each recipe has its own options "
                             "(`brevity train RECIPE --help`). Explicit recipes default to their zoo member's "
                             "settings.")

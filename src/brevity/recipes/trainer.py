"""The training core that SFT and the latent trainer share: stages of optimizer steps, a learning-rate
schedule, validation loss on a held-out slice, checkpoints, resume, and data sharded by rank.

Why one core: long trainings on this machine outlive a session, so every loop must stop at any step and
continue from its last checkpoint with the same result (bitwise, on one CPU process). That rules out a
random stream consumed step after step: each step draws its batch from an rng seeded by (seed, rank,
step), so a resumed run needs no data state at all, and under `accelerate launch` each rank draws its own
batches. What a checkpoint holds: the weights of every trained module, the optimizer, the scheduler,
torch's rng, the position (stage, step), the early-stopping state and the history of losses; the optimizer
and the scheduler in a second file beside it (`save`).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from brevity.errors import BrevityError

SCHEDULES = ("cosine", "constant")


@dataclass
class LoopConfig:
    lr: float = 1e-3
    warmup: int = 50  # linear warm-up steps at the start of every stage
    schedule: str = "cosine"  # "cosine": decay to 0 over each stage; "constant": lr after warm-up
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    clip: float = 1.0
    seed: int = 0
    eval_every: int = 0  # validation loss every K steps of a stage (0: never)
    patience: int = 0  # a stage ends after this many evaluations without a new best (0: runs all its steps)
    checkpoint_every: int = 0  # steps between checkpoints (0: none)
    keep: int = 2  # checkpoints kept on disk
    reset_optimizer: bool = True  # a fresh optimizer at every stage (Coconut, iCoT)

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise BrevityError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.lr <= 0 or min(self.warmup, self.eval_every, self.patience, self.checkpoint_every) < 0:
            raise BrevityError("lr must be positive; warmup, eval_every, patience and checkpoint_every >= 0")
        if self.patience and not self.eval_every:
            raise BrevityError("patience ends a stage on validation: set eval_every too")


@dataclass
class Stage:
    """`steps` optimizer steps at most (fewer when validation stops improving, with patience)."""

    name: str
    steps: int


@dataclass
class Position:
    """Where a run is: what a checkpoint must restore besides the weights and the optimizer."""

    stage: int = 0  # index into the stage list
    stage_step: int = 0
    step: int = 0  # optimizer steps in all stages
    ema: float | None = None
    best: float | None = None  # the stage's best validation loss
    bad: int = 0  # evaluations since it
    history: list[dict] = field(default_factory=list)  # {"step", "stage", "train" | "val": loss}
    stage_loss: dict[str, float | None] = field(default_factory=dict)
    seconds: float = 0.0


def step_rng(seed: int, rank: int, step: int) -> random.Random:
    """The rng that draws step `step`'s data on `rank`: a pure function of the three, so a resumed run
    draws exactly what the uninterrupted one drew, and ranks draw different batches."""
    return random.Random(f"{seed}/{rank}/{step}")


def schedule_factor(cfg: LoopConfig, steps: int) -> Callable[[int], float]:
    def factor(s: int) -> float:
        warm = min(1.0, (s + 1) / cfg.warmup) if cfg.warmup else 1.0
        if cfg.schedule == "constant":
            return warm
        return warm * 0.5 * (1 + math.cos(math.pi * min(1.0, s / max(1, steps))))
    return factor


class TrainLoop:
    """Runs `loss_fn(stage, rng)` over stages; `val_fn(stage)` gives a validation loss (no grad).

    `modules` are every trained module (the model, CODI's projection); `checkpoint_dir` holds
    `step-N.pt` files. With `resume`, the newest checkpoint there is loaded first (an error if none).
    `progress(step, ema_loss)` after every step; `stage_done(stage_index, stats)` after each stage."""

    def __init__(self, modules: Sequence[torch.nn.Module], stages: Sequence[Stage], cfg: LoopConfig,
                 checkpoint_dir: Path | None = None, resume: bool = False, fingerprint: dict | None = None):
        from accelerate import Accelerator

        if cfg.checkpoint_every and checkpoint_dir is None:
            raise BrevityError("checkpoint_every needs a checkpoint folder")
        self.cfg, self.stages = cfg, list(stages)
        self.dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.fingerprint = {"stages": [asdict(s) for s in self.stages], "loop": asdict(cfg), **(fingerprint or {})}
        self.acc = Accelerator(cpu=not torch.cuda.is_available())
        prepared = self.acc.prepare(*modules)
        self.modules = list(prepared) if isinstance(prepared, tuple) else [prepared]
        self.params = [p for m in self.modules for p in m.parameters()]
        self.pos = Position()
        self.opt = self.sched = None
        self._resume_state = None
        if resume:
            self._resume_state = self._load_latest()

    @property
    def rank(self) -> int:
        return self.acc.process_index

    @property
    def device(self):
        return self.acc.device

    def unwrapped(self) -> list[torch.nn.Module]:
        return [self.acc.unwrap_model(m) for m in self.modules]

    # The loop ------------------------------------------------------------------------------------
    def run(self, loss_fn: Callable[[Stage, random.Random], torch.Tensor],
            val_fn: Callable[[Stage], float] | None = None, progress=None, stage_done=None) -> Position:
        torch.manual_seed(self.cfg.seed)
        if self.cfg.eval_every and val_fn is None:
            raise BrevityError("eval_every needs a validation slice")
        t0 = time.time() - self.pos.seconds
        self._new_optimizer(self.stages[self.pos.stage] if self.stages else Stage("none", 0))
        if self._resume_state is not None:
            self._restore_optimizer(self._resume_state)
            self._resume_state = None
        for m in self.modules:
            m.train()
        while self.pos.stage < len(self.stages):
            stage = self.stages[self.pos.stage]
            while self.pos.stage_step < stage.steps:
                loss = loss_fn(stage, step_rng(self.cfg.seed, self.rank, self.pos.step))
                self.acc.backward(loss)
                if self.cfg.clip:
                    self.acc.clip_grad_norm_(self.params, self.cfg.clip)
                self.opt.step()
                self.sched.step()
                self.opt.zero_grad(set_to_none=True)
                self.pos.step += 1
                self.pos.stage_step += 1
                value = loss.item()
                self.pos.ema = value if self.pos.ema is None else 0.95 * self.pos.ema + 0.05 * value
                if self.pos.step % 10 == 0:
                    self.pos.history.append({"step": self.pos.step, "stage": stage.name,
                                             "train": round(self.pos.ema, 4)})
                stop = False
                if self.cfg.eval_every and self.pos.stage_step % self.cfg.eval_every == 0:
                    stop = self._evaluate(stage, val_fn)
                if stop:
                    self.pos.history.append({"step": self.pos.step, "stage": stage.name, "early_stop": True})
                    self.pos.stage_step = stage.steps
                if progress:
                    progress(self.pos.step, self.pos.ema)
                self.pos.seconds = time.time() - t0
                if self.cfg.checkpoint_every and self.pos.step % self.cfg.checkpoint_every == 0 \
                        and self.pos.stage_step < stage.steps:
                    self.save()
            self.pos.stage_loss[stage.name] = round(self.pos.ema, 4) if self.pos.ema is not None else None
            done_index = self.pos.stage
            self.pos.stage += 1
            self.pos.stage_step, self.pos.best, self.pos.bad = 0, None, 0
            if self.pos.stage < len(self.stages):
                if self.cfg.reset_optimizer:
                    self._new_optimizer(self.stages[self.pos.stage])
                else:
                    self._new_schedule(self.stages[self.pos.stage])
            if stage_done is not None:
                for m in self.modules:
                    m.eval()
                stage_done(done_index, self.stats())
                for m in self.modules:
                    m.train()
            self.pos.seconds = time.time() - t0
            if self.cfg.checkpoint_every and self.pos.stage < len(self.stages):
                self.save()  # a stop between stages resumes at the next one
        for m in self.modules:
            m.eval()
        self.pos.seconds = time.time() - t0
        return self.pos

    def _evaluate(self, stage: Stage, val_fn) -> bool:
        """Record the validation loss; True when the stage should end (patience used up)."""
        for m in self.modules:
            m.eval()
        with torch.no_grad():
            val = float(val_fn(stage))
        for m in self.modules:
            m.train()
        self.pos.history.append({"step": self.pos.step, "stage": stage.name, "val": round(val, 4)})
        if self.pos.best is None or val < self.pos.best - 1e-4:
            self.pos.best, self.pos.bad = val, 0
            return False
        self.pos.bad += 1
        return bool(self.cfg.patience) and self.pos.bad >= self.cfg.patience

    def stats(self) -> dict:
        """What a manifest keeps of the run."""
        p = self.pos
        vals = [h["val"] for h in p.history if "val" in h]
        return {"train_seconds": round(p.seconds, 1), "steps": p.step,
                "final_loss": None if p.ema is None else round(p.ema, 4),
                "stage_final_loss": dict(p.stage_loss), "history": list(p.history), "val": vals[-1] if vals else None,
                "schedule": [(s.name, s.steps) for s in self.stages], "loop": asdict(self.cfg)}

    # Optimizer -----------------------------------------------------------------------------------
    def _new_optimizer(self, stage: Stage) -> None:
        self.opt = torch.optim.AdamW(self.params, lr=self.cfg.lr, weight_decay=self.cfg.weight_decay,
                                     betas=tuple(self.cfg.betas))
        self._new_schedule(stage)

    def _new_schedule(self, stage: Stage) -> None:
        for g in self.opt.param_groups:
            g["lr"] = self.cfg.lr
            g["initial_lr"] = self.cfg.lr
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, schedule_factor(self.cfg, stage.steps))

    # Checkpoints ---------------------------------------------------------------------------------
    def save(self) -> Path | None:
        """Write `step-N.pt` and its `optimizer-N.pt` (main process only; every rank waits), keep the newest
        `cfg.keep`. The optimizer's moments go in their own file, as HF's Trainer keeps `optimizer.pt` apart:
        each file then stays under the repository's 5 MB limit for a committed checkpoint in `resume/` (a
        one-stage 2-layer run at width 128 is 2.1 MB of weights and 4.3 MB of moments)."""
        self.acc.wait_for_everyone()
        path = None
        if self.acc.is_main_process:
            self.dir.mkdir(parents=True, exist_ok=True)
            state = {"fingerprint": self.fingerprint, "position": asdict(self.pos),
                     "modules": [m.state_dict() for m in self.unwrapped()],
                     "torch_rng": torch.get_rng_state(),
                     "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}
            path = self.dir / f"step-{self.pos.step:08d}.pt"
            # the optimizer's file first: a checkpoint counts once its step file exists, so a stop while
            # writing leaves the previous checkpoint whole
            _save_atomic({"optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict()},
                         optimizer_file(path))
            _save_atomic(state, path)
            for old in sorted(self.dir.glob("step-*.pt"))[:-self.cfg.keep]:
                old.unlink()
                optimizer_file(old).unlink(missing_ok=True)
        self.acc.wait_for_everyone()
        return path

    def _load_latest(self) -> dict:
        found = sorted(self.dir.glob("step-*.pt")) if self.dir and self.dir.is_dir() else []
        if not found:
            raise BrevityError(f"--resume: no checkpoint in {self.dir}")
        state = torch.load(found[-1], map_location="cpu", weights_only=False)
        if "optimizer" not in state:  # checkpoints written before the optimizer had its own file hold it inline
            if not optimizer_file(found[-1]).is_file():
                raise BrevityError(f"--resume: {found[-1]} has no {optimizer_file(found[-1]).name} beside it; "
                                   "copy both files of a checkpoint")
            state.update(torch.load(optimizer_file(found[-1]), map_location="cpu", weights_only=False))
        if state["fingerprint"] != self.fingerprint:
            old, new = _flat(state["fingerprint"]), _flat(self.fingerprint)
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            raise BrevityError(f"--resume: {found[-1]} was written with other settings ({', '.join(diff)} differ); "
                               "resume with the same ones or start a new run")
        for m, weights in zip(self.unwrapped(), state["modules"]):
            m.load_state_dict(weights)
        self.pos = Position(**state["position"])
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        return state

    def _restore_optimizer(self, state: dict) -> None:
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])  # run() seeded torch before building the optimizer

    def clear(self) -> None:
        """Remove the checkpoints after a finished run (the saved model supersedes them)."""
        self.acc.wait_for_everyone()
        if self.acc.is_main_process and self.dir and self.dir.is_dir():
            for f in [*self.dir.glob("step-*.pt"), *self.dir.glob("optimizer-*.pt")]:
                f.unlink()
            if not any(self.dir.iterdir()):
                self.dir.rmdir()


def optimizer_file(step_file: Path) -> Path:
    """`optimizer-N.pt`, the companion of a checkpoint's `step-N.pt`."""
    return step_file.with_name(step_file.name.replace("step-", "optimizer-", 1))


def _save_atomic(obj: dict, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def _flat(d: dict, prefix: str = "") -> dict:
    """Nested settings as dotted keys, to name what differs."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out

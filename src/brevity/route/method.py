"""The `route` method: one registered method for the three routes, so the bench and the server run
them by name (`route:cascade`, `route:router`, `route:switch`, or `route:kind=cascade;share=0.3`).

- cascade: the fast model answers first; when its confidence (mean log-probability of its answer
  tokens) is low, the strong side answers instead. Both calls count.
- router: a classifier on the fast model's hidden state of the question decides before any
  generation; only the chosen side generates.
- switch: a cascade inside one LRM: `nothink` first, thinking when the no-thinking answer is unsure.

The strong side is a registered method on the `@model` (default `deer`, the explicit issue's best
decode-time method). The threshold is calibrated on the validation split as a quantile of the scores
for a share of strong calls (RouteLLM); with no `share` given, the share is the smallest whose
validation accuracy stays within `max_drop` of the strong side alone. Nested method specs take the
positional form (`strong=budget:128`), since `;` and `@` belong to the route's own spec.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brevity.engines.base import Engine
from brevity.errors import BrevityError
from brevity.methods.base import Method, RunContext, build_method, register
from brevity.methods.control import injected, opened
from brevity.methods.solution import Solution
from brevity.route.curves import quality_curve, smallest_share, threshold_for_share

log = logging.getLogger("brevity.route")

KINDS = ("cascade", "router", "switch")
CALIBRATION_VERSION = 1  # bump when what a saved calibration means changes
CONFIDENCE_METHODS = ("cot", "nothink")  # fast sides that can report answer log-probabilities


@register
@dataclass(frozen=True)
class Route(Method):
    name = "route"
    positional = "kind"
    kind: str = "cascade"
    fast: str = "tiny-llm"  # the fast model (cascade, router); a switch uses the strong model itself
    fast_method: str = ""  # default: cot for cascade and router, nothing for switch
    strong: str = "deer"  # the strong side's method, on the route's @model
    share: float = -1.0  # target share of strong calls; negative: chosen on validation
    max_drop: float = 0.005  # accuracy the automatic share may give up against the strong side alone
    calib_n: int = 500  # validation problems for the threshold
    train_n: int = 1000  # training problems for the router

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.kind not in KINDS:
            raise BrevityError(f"route kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.share > 1.0:
            raise BrevityError(f"route share is a fraction of calls (0..1, negative: auto), got {self.share}")
        if self.calib_n <= 0 or self.train_n <= 0 or self.max_drop < 0:
            raise BrevityError("route: calib_n and train_n must be positive, max_drop non-negative")
        fast = self.fast_spec()
        if fast.split(":")[0] not in CONFIDENCE_METHODS:
            raise BrevityError(f"route fast_method must be one of {', '.join(CONFIDENCE_METHODS)} (they report "
                               f"answer log-probabilities), got {fast!r}")
        build_method(self.strong)

    def fast_spec(self) -> str:
        return self.fast_method or ("nothink" if self.kind == "switch" else "cot")

    def extra_models(self) -> list[str]:
        return [] if self.kind == "switch" else [self.fast]

    # The two sides -----------------------------------------------------------------------
    def side_methods(self) -> tuple[Method, Method]:
        """The fast and the strong side's methods, with the route's max_tokens."""
        return tuple(dataclasses.replace(build_method(s), max_tokens=self.max_tokens)
                     for s in (self.fast_spec(), self.strong))  # type: ignore[return-value]

    def fast_engine(self, ctx: RunContext, state: dict) -> Engine:
        """The fast side's engine: the route's own for a switch, else one for `fast` (made once per run)."""
        if self.kind == "switch":
            return ctx.engine
        if state.get("fast_engine") is None:
            state["fast_engine"] = (ctx.make_engine or _zoo_engine)(self.fast)
        return state["fast_engine"]

    def scores(self, problems, fast_engine: Engine, fast_sols: list[Solution] | None, state: dict) -> list[float]:
        """How much each problem needs the strong side: the router's probability, or minus the fast
        answer's mean log-probability (no answer: certainly)."""
        if self.kind == "router":
            from brevity.route.router import question_features

            return [float(x) for x in state["router"].score(question_features(fast_engine, problems))]
        return [-s.extra["answer_logprob"] if "answer_logprob" in s.extra else math.inf for s in fast_sols]

    # Calibration ---------------------------------------------------------------------------
    def prepare(self, ctx: RunContext) -> dict:
        """The run's state: the fast engine and what calibration decided (the threshold, the share, the router),
        calibrated on the context's task or read from an earlier calibration of the same settings."""
        from brevity.route.sides import run_side
        from brevity.tasks import TaskSpec, load_problems
        from brevity.ui import ProgressUI

        task = ctx.task or TaskSpec("arith")
        state: dict[str, Any] = {}
        fast_m, strong_m = self.side_methods()
        fast_engine, engine = self.fast_engine(ctx, state), ctx.engine
        saved = self._calibration_path(engine, fast_engine, task)
        if (loaded := self._load_calibration(saved)) is not None:
            return {**state, **loaded}
        ui = ctx.ui or ProgressUI(enabled=False)

        def both(split: str, n: int):
            probs = load_problems(task.name, split=split, n=n, **dict(task.params))
            with ui.task(f"route {self.kind}: fast side on {split}", len(probs)) as adv:
                f = run_side(fast_m, fast_engine, probs, adv, logprobs=True)
            with ui.task(f"route {self.kind}: strong side on {split}", len(probs)) as adv:
                s = run_side(strong_m, engine, probs, adv)
            return probs, f, s

        if self.kind == "router":
            from brevity.route.router import Router, question_features

            probs, f, s = both("train", self.train_n)
            needs = [(not a.correct) and b.correct for a, b in zip(f, s)]
            state["router"] = Router.fit(question_features(fast_engine, probs), needs)
        probs, f, s = both("validation", self.calib_n)
        scores = self.scores(probs, fast_engine, f, state)
        share = self.share
        if share < 0:
            curve = self.curve(scores, f, s)
            strong_acc = sum(x.correct for x in s) / len(s)
            share = smallest_share(curve, strong_acc - self.max_drop)
        state.update(threshold=threshold_for_share(scores, share), calibrated_share=share)
        saved.parent.mkdir(parents=True, exist_ok=True)
        tmp = saved.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.calibration(state)) + "\n")
        os.replace(tmp, saved)  # whole or absent: a reader never sees half a file
        return state

    # A saved calibration -------------------------------------------------------------------
    def calibration(self, state: dict) -> dict:
        """What calibration decided, as JSON-able values (the threshold, the share, the router's weights)."""
        router = state.get("router")
        return {"version": CALIBRATION_VERSION, "threshold": state["threshold"],
                "calibrated_share": state["calibrated_share"], "router": router.as_dict() if router else None}

    def restore(self, saved: dict) -> dict:
        """A run's state from a saved calibration (the fast engine is made when first needed)."""
        from brevity.route.router import Router

        if saved.get("version") != CALIBRATION_VERSION:
            raise ValueError(f"calibration version {saved.get('version')!r}")
        state: dict[str, Any] = {"threshold": float(saved["threshold"]),
                                 "calibrated_share": float(saved["calibrated_share"])}
        if self.kind == "router":
            state["router"] = Router.from_dict(saved["router"])
        return state

    def _calibration_path(self, engine: Engine, fast_engine: Engine, task) -> Path:
        """Where this route's calibration is saved: keyed by both models' hashes (an upstream's server and
        name too), the route's settings and the calibration task, so any change calibrates afresh."""
        from brevity.route.sides import cache_dir, engine_identity

        key = json.dumps([CALIBRATION_VERSION, engine_identity(engine), engine_identity(fast_engine), self.spec(),
                          self.max_tokens, task.as_dict()], sort_keys=True, default=str)
        return cache_dir() / f"calibration-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"

    def _load_calibration(self, path: Path) -> dict | None:
        """A saved calibration's state; None when there is none (or it is unreadable: calibrate again)."""
        try:
            return self.restore(json.loads(path.read_text()))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning("ignoring the saved route calibration %s (%s); calibrating again", path, e)
            return None

    def curve(self, scores: list[float], fast: list[Solution], strong: list[Solution]):
        """Quality and cost for every share of strong calls, from both sides' outcomes on the same problems."""
        return quality_curve(scores, [x.correct for x in fast], [y.correct for y in strong],
                             [x.generated_positions for x in fast], self.routed_costs(fast, strong))

    def routed_costs(self, fast: list[Solution], strong: list[Solution]) -> list[int]:
        """Generated positions of a problem sent to the strong side; a cascade paid for its fast attempt too."""
        return [y.generated_positions + (0 if self.kind == "router" else x.generated_positions)
                for x, y in zip(fast, strong)]

    # Solving -------------------------------------------------------------------------------
    def solve(self, problems, ctx: RunContext) -> list[Solution]:
        state = ctx.state if ctx.state is not None else self.prepare(ctx)
        engine = ctx.engine
        # Each side streams into a recorder: a cascade's fast answer may be dropped; the chosen side's recording is
        # replayed to the reader, its injected text (a closing phrase, a marker) marked as the method wrote it.
        fast_rec = {p.id: Recorder(ctx.stream(p)) for p in problems if ctx.stream(p) is not None}
        strong_rec = {p.id: Recorder(ctx.stream(p)) for p in problems if ctx.stream(p) is not None}
        fast_m, strong_m = self.side_methods()
        fast_engine = self.fast_engine(ctx, state)
        side = RunContext(fast_engine, make_engine=ctx.make_engine, task=ctx.task, log_prompts=ctx.log_prompts)
        fast_ctx = side.but(logprobs=True, streams=fast_rec)
        strong_ctx = side.but(engine=engine, logprobs=ctx.logprobs, streams=strong_rec)
        thr = state["threshold"]
        if self.kind == "router":
            scores = self.scores(problems, fast_engine, None, state)
            to_strong = [s > thr for s in scores]
            easy = [p for p, u in zip(problems, to_strong) if not u]
            fast_by_id = {s.problem_id: s for s in fast_m.solve(easy, fast_ctx)} if easy else {}
        else:
            fast_sols = fast_m.solve(problems, fast_ctx)
            scores = self.scores(problems, fast_engine, fast_sols, state)
            to_strong = [s > thr for s in scores]
            fast_by_id = {s.problem_id: s for s in fast_sols}
        hard = [p for p, u in zip(problems, to_strong) if u]
        strong_by_id = {s.problem_id: s for s in strong_m.solve(hard, strong_ctx)} if hard else {}
        out = []
        for p, score, up in zip(problems, scores, to_strong):
            first = fast_by_id.get(p.id)
            sol = strong_by_id[p.id] if up else first
            if up and first is not None:  # a cascade paid for the fast attempt as well
                sol.thinking_tokens += first.thinking_tokens
                sol.answer_tokens += first.answer_tokens
                sol.forward_passes += first.forward_passes
            sol.method, sol.model = self.spec(), engine.model_name
            sol.extra.update(route="strong" if up else "fast", score=score, threshold=thr,
                             fast_model=fast_engine.model_name)
            if not ctx.logprobs:
                sol.extra.pop("answer_logprob", None)
            if p.id in fast_rec:
                (strong_rec if up else fast_rec)[p.id].replay()
            out.append(sol)
        if ctx.progress:
            ctx.progress(len(problems))
        return out


class Recorder:
    """A sink that keeps what a method streams into it, for a caller that picks afterwards which of several runs
    the reader gets (a route, whose fast answer may be dropped): `replay` sends the kept text to the real sink,
    what the model wrote and what the method injected, as each was written."""

    def __init__(self, sink):
        self.sink = sink
        self.pieces: list[tuple[bool | None, str]] = []  # (injected, text); (None, ""): thinking opened

    @property
    def cancelled(self) -> bool:
        return self.sink.cancelled

    @property
    def wants_text(self) -> bool:
        return self.sink.wants_text

    def write(self, text: str) -> None:
        self.pieces.append((False, text))

    def inject(self, text: str) -> None:
        self.pieces.append((True, text))

    def opened(self) -> None:
        self.pieces.append((None, ""))

    def replay(self) -> None:
        for was_injected, text in self.pieces:
            if was_injected is None:
                opened(self.sink)
            elif was_injected:
                injected(self.sink, text)
            else:
                self.sink.write(text)


def _zoo_engine(name: str) -> Engine:
    """An in-process engine for a model the caller gave no way to make (a run without `make_engine`)."""
    from brevity.engines import make_engine
    from brevity.zoo import resolve_model

    return make_engine("hf", str(resolve_model(name)))

"""Method registry, the run contract and the shared machinery every method uses to turn completions into
Solutions.

The contract: a method is immutable configuration (a frozen dataclass whose fields are its parameters, so equal
methods are equal keys and two runs can share one instance). A run gives it a `RunContext` (the engine, how to
make engines for other models, the task, the run's needs and the readers' streams by problem id); `prepare(ctx)`
does one-time work (a route's calibration) and returns the run's state, which `solve(problems, ctx)` reads from
`ctx.state`. Nothing a run decides is written on the method."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from brevity.engines.base import Engine, ProgressFn
from brevity.errors import BrevityError
from brevity.methods.solution import Solution
from brevity.spec import MethodSpec, parse_spec
from brevity.registry import load_registry
from brevity.tasks import Problem, TaskSpec
from brevity.thinking import first_mention

_METHODS: dict[str, type[Method]] = {}

# Decoding settings every method shares in a run (they enter record identities).
DEFAULT_MAX_TOKENS = 1024


def register(cls: type[Method]) -> type[Method]:
    _METHODS[cls.name] = cls
    return cls


@dataclass(frozen=True)
class RunContext:
    """One run of a method: what the caller (the bench, the server, a route) gives it beyond its parameters."""

    engine: Engine  # the engine serving the method's model
    make_engine: Callable[[str], Engine] | None = None  # a model name or folder -> an engine of the caller's kind
    task: TaskSpec | None = None  # the task being solved, for methods that calibrate on its validation split
    logprobs: bool = False  # the caller needs answer confidences (a route's fast side): extra["answer_logprob"]
    log_prompts: bool = False  # records keep the rendered prompt text (`brevity bench --log-prompts`)
    streams: Mapping[str, Any] = field(default_factory=dict)  # problem id -> the reader's stream (a served request)
    progress: ProgressFn | None = None  # called with the number of problems finished
    ui: Any = None  # draws the progress of `prepare` (`ui.task(description, total)`); None draws nothing
    state: Any = None  # what the method's `prepare` returned for this run

    def stream(self, problem: Problem) -> Any:
        """The problem's output stream, or None when nobody reads it as it is written."""
        return self.streams.get(problem.id)

    def but(self, **changes: Any) -> RunContext:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Method:
    """A named, parameterized way to solve problems with an engine. Subclasses are frozen dataclasses whose
    fields are the parameters; `positional` names the field that `name:value` sets."""

    name: ClassVar[str] = ""
    positional: ClassVar[str | None] = None
    # Methods that steer the thinking section refuse a model whose format has none (cot does not).
    steers_thinking: ClassVar[bool] = False
    max_tokens: int = DEFAULT_MAX_TOKENS
    # Room for the answer once thinking closes; 0: the model format's (the bench's default). The server sets it
    # to what a request's max_tokens leaves after its thinking budget (`brevity.serve.gateway.Gateway.plan`).
    answer_tokens: int = 0

    def __post_init__(self) -> None:
        if self.max_tokens <= 0:
            raise BrevityError(f"{self.name}: max_tokens must be positive, got {self.max_tokens}")
        if self.answer_tokens < 0:
            raise BrevityError(f"{self.name}: answer_tokens must be >= 0 (0: the format's), got {self.answer_tokens}")

    def answer_room(self, engine) -> int:
        """Most tokens the answer may take after thinking closes."""
        return self.answer_tokens or engine.format.answer_tokens

    def spec(self) -> str:
        """Canonical spec: the positional parameter always (so `budget` reads `budget:256`), and every other
        parameter that differs from its default, sorted."""
        changed = [(f.name, getattr(self, f.name)) for f in dataclasses.fields(self)
                   if getattr(self, f.name) != f.default or f.name == self.positional]
        if not changed:
            return self.name
        if len(changed) == 1 and changed[0][0] == self.positional:
            return f"{self.name}:{changed[0][1]}"
        return f"{self.name}:" + ";".join(f"{k}={v}" for k, v in sorted(changed))

    def solve(self, problems: Sequence[Problem], ctx: RunContext) -> list[Solution]:
        """The problems' Solutions, ungraded (the task scores them), in order, with `ctx.state` from `prepare`."""
        raise NotImplementedError

    def prepare(self, ctx: RunContext) -> Any:
        """One-time work before the timed solving starts (a route calibrates its threshold here); returns the
        run's state, which callers put in the context they solve with (`ctx.but(state=...)`). A preparation
        depends on the parameters but not on the lengths (`without_lengths()`): the server shares one between
        requests that differ only in max_tokens."""
        return None

    def run(self, problems: Sequence[Problem], engine: Engine, **context: Any) -> list[Solution]:
        """Prepare and solve in one call (a notebook, a test): `context` holds RunContext's other fields."""
        ctx = RunContext(engine, **context)
        return self.solve(problems, ctx.but(state=self.prepare(ctx)))

    def without_lengths(self) -> Method:
        """This method with the lengths a request sets (max_tokens, answer_tokens) at their defaults: what its
        preparation depends on."""
        return dataclasses.replace(self, max_tokens=DEFAULT_MAX_TOKENS, answer_tokens=0)

    def render(self, problem: Problem, fmt: Any) -> list[dict[str, str]]:
        """The chat messages for a problem (the model's format renders them); prompt-level methods
        (methods/prompting.py) override it."""
        return fmt.messages(problem.question, instruct=problem.instructed)

    # Shared helpers -----------------------------------------------------------------------
    def check(self, engine: Engine) -> None:
        """Raise BrevityError when the method cannot run as configured on this engine (a budget too small
        for its closing phrase, a thinking method on a model without a thinking section); the bench and the
        server call it before any work. `engine` may be a stand-in with only `tokenizer` and `format`."""
        if self.steers_thinking:
            engine.format.require_thinking(self.name)

    def extra_models(self) -> list[str]:
        """Models the method uses besides its engine's (a route's fast model); they enter record ids."""
        return []

    def make_solution(self, problem: Problem, ctx: RunContext, thinking_ids: list[int], answer_ids: list[int],
                      finish_reason: str, forward_passes: int, answer_logprobs: Sequence[float] | None = None,
                      prompt_ids: Sequence[int] = (), closed: bool = True, answer_tail: str = "",
                      injected: Sequence[Sequence[int]] = (), close_injected: bool = False,
                      **extra: Any) -> Solution:
        """The Solution of one problem, ungraded. With `answer_logprobs` (one per answer
        token) the mean goes to extra["answer_logprob"], the confidence a cascade routes on. `closed`: the
        thinking section ended, so a length finish cut the answer (`answer_truncated`). `injected`: spans of the
        thinking text the method wrote; `close_injected`: the method, not the model, closed thinking."""
        engine = ctx.engine
        tok = engine.tokenizer
        answer_logprobs = [x for x in answer_logprobs or () if x is not None]  # injected tokens have none
        if answer_logprobs:
            extra["answer_logprob"] = sum(answer_logprobs) / len(answer_logprobs)
        thinking = tok.decode(thinking_ids, skip_special_tokens=False)
        skip = problem.decoding is None or problem.decoding.skip_special_tokens  # a served request may keep them
        answer = tok.decode(answer_ids, skip_special_tokens=skip) + answer_tail  # tail: Completion.stop_tail
        # Not graded here: the task scores the answer (tasks.grading.score_solutions); where the gold answer first
        # appears in the thinking needs the token ids, so it is counted now and kept only for correct answers.
        first = first_mention(thinking_ids, tok, problem.answer) if problem.answer and thinking_ids else None
        spans = [list(x) for x in injected]
        if close_injected and engine.format.spec.thinks:
            spans.append([len(thinking), len(thinking) + len(engine.format.spec.close)])
        return Solution(problem_id=problem.id, method=self.spec(), model=engine.model_name, engine=engine.name,
                        prediction=None, correct=False, thinking_tokens=len(thinking_ids),
                        answer_tokens=len(answer_ids), forward_passes=forward_passes, first_answer_tokens=first,
                        finish_reason=finish_reason, thinking=thinking, answer=answer, extra=extra,
                        prompt_tokens=len(prompt_ids), injected=spans,
                        answer_truncated=closed and finish_reason == "length",
                        prompt=tok.decode(list(prompt_ids), skip_special_tokens=False) if ctx.log_prompts else None)


def method_names() -> list[str]:
    _load_builtin()
    return sorted(_METHODS)


def build_method(spec: MethodSpec | str) -> Method:
    """Instantiate a method from its spec, converting and checking every parameter."""
    if isinstance(spec, str):
        spec = parse_spec(spec)
    cls = method_class(spec.name)
    raw: dict[str, object] = dict(spec.params)
    if spec.positional is not None:
        if cls.positional is None:
            raise BrevityError(f"method {spec.name!r} takes no positional value; use key=value "
                               f"({', '.join(f.name for f in dataclasses.fields(cls))})")
        raw[cls.positional] = spec.positional
    return method_from(spec.name, raw)


def method_class(name: str) -> type[Method]:
    _load_builtin()
    cls = _METHODS.get(name)
    if cls is None:
        raise BrevityError(f"unknown method {name!r}; choose one of {', '.join(sorted(_METHODS))}")
    return cls


def method_from(name: str, params: Mapping[str, object]) -> Method:
    """A method from typed parameters (the server builds them from a request's fields, as vLLM's request models
    build sampling parameters); strings are converted as the spec grammar's, anything else must have the
    field's type. Every parameter is checked: an unknown one is an error, never dropped."""
    cls = method_class(name)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for k, v in params.items():
        if k not in fields:
            raise BrevityError(f"method {name!r} has no parameter {k!r}; it has {', '.join(fields)}")
        kwargs[k] = _convert(name, k, str(v).lower() if isinstance(v, bool) else str(v), fields[k].type)
    return cls(**kwargs)


def _convert(method: str, key: str, value: str, typ: Any) -> Any:
    typ = typ if isinstance(typ, str) else getattr(typ, "__name__", str(typ))
    try:
        if typ.startswith("int"):
            return int(value)
        if typ.startswith("float"):
            return float(value)
        if typ.startswith("bool"):
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError(value)
            return value.lower() in ("true", "1")
    except ValueError:
        raise BrevityError(f"{method}: parameter {key}={value!r} is not a valid {typ.split()[0]}") from None
    return value


# Where methods come from: these modules register theirs when imported (routes too, a higher layer, named here
# rather than imported, so the layers still point down), and any installed package through the entry-point group
# `brevity.methods` (`name = "package.module:MethodClass"` in its pyproject). Loaded on first use, whatever the
# caller happened to import.
BUILTIN_MODULES = ("brevity.methods.budget", "brevity.methods.early_exit", "brevity.methods.latent",
                   "brevity.methods.prompting", "brevity.route.method")
ENTRY_POINTS = "brevity.methods"


def _load_builtin() -> None:
    load_registry(_METHODS, BUILTIN_MODULES, ENTRY_POINTS, "method", wrap=_plugin_method)


def _plugin_method(name: str, cls: Any) -> type[Method]:
    """An installed package's method: a Method dataclass whose `name` is its entry point's (specs and records
    carry that name)."""
    if not (isinstance(cls, type) and issubclass(cls, Method) and dataclasses.is_dataclass(cls)
            and cls.__dataclass_params__.frozen):
        raise BrevityError(f"the method entry point {name!r} is not a frozen Method dataclass ({cls!r}); a method "
                           "is immutable configuration (@dataclass(frozen=True))")
    if cls.name != name:
        raise BrevityError(f"the method entry point {name!r} loads a method named {cls.name!r}; the names must agree")
    return cls

"""The Problem record and the task registry shared by every generator and loader."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from brevity.errors import BrevityError
from brevity.registry import load_registry

SPLITS = ("train", "validation", "test")
# Disjoint seed offsets per split: generated splits never share a random stream.
SPLIT_OFFSET = {"train": 0, "validation": 1_000_003, "test": 2_000_029}


@dataclass
class Problem:
    """One question with its gold answer; traces are the task's reference reasoning per style.

    A served request is a Problem too: its `prompt` (chat messages, rendered by each engine's own chat
    template, or raw completion text) replaces the question and its gold answer is empty (nothing is
    graded); its output stream is the run's (`RunContext.streams`, by problem id), not the problem's."""

    id: str
    question: str
    answer: str
    metadata: dict[str, Any] = field(default_factory=dict)
    traces: dict[str, str] = field(default_factory=dict)
    prompt: list[dict[str, str]] | str | None = None
    # A served chat's chat_template_kwargs, passed to the model's template (its thinking switch is the format's).
    template_kwargs: dict[str, Any] = field(default_factory=dict)
    # A served request's own decoding settings (brevity.methods.control.Decoding); None: greedy, no stop.
    decoding: Any = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(dataclasses.replace(self, decoding=None))

    @property
    def instructed(self) -> bool:
        """Whether the format's answer instruction goes with the question: not for a request whose answer is
        judged as a refusal or a compliance (a safety prompt is asked as its set writes it)."""
        return self.metadata.get("answer_type") != "refusal"


@dataclass(frozen=True)
class TaskSpec:
    """A task name and its parameters, e.g. arith with max_steps=5; hashed into record identities."""

    name: str
    params: tuple[tuple[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, **dict(self.params)}

    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:16]

    def score(self, problem: Problem, answer: str, answered: bool = True) -> tuple[bool, str | None]:
        """(correct, prediction) of an answer text to one of this task's problems (grading.score)."""
        from brevity.tasks.grading import score

        return score(problem, answer, answered)


TaskFn = Callable[..., Iterator[Problem]]
_TASKS: dict[str, tuple[TaskFn, str]] = {}


def register_task(name: str, describe: str) -> Callable[[TaskFn], TaskFn]:
    def wrap(fn: TaskFn) -> TaskFn:
        _TASKS[name] = (fn, describe)
        return fn

    return wrap


def task_names() -> list[str]:
    _load_builtin()
    return sorted(_TASKS)


def describe_task(name: str) -> str:
    _load_builtin()
    if name not in _TASKS:
        raise BrevityError(f"unknown task {name!r}; choose one of {', '.join(sorted(_TASKS))}")
    return _TASKS[name][1]


def task_generator(name: str, split: str = "test", **params: Any) -> Iterator[Problem]:
    """A split's problems in order (a generated task's may not end)."""
    _load_builtin()
    if name not in _TASKS:
        raise BrevityError(f"unknown task {name!r}; choose one of {', '.join(sorted(_TASKS))}")
    if split not in SPLITS:
        raise BrevityError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    try:
        return _TASKS[name][0](split=split, **params)
    except TypeError as e:
        raise BrevityError(f"bad parameter for task {name!r}: {e}") from None


def load_problems(name: str, split: str = "test", n: int | None = None, **params: Any) -> list[Problem]:
    """The first n problems of a split; generators are deterministic, so this is reproducible."""
    it = task_generator(name, split, **params)
    out: list[Problem] = []
    for p in it:
        if n is not None and len(out) >= n:
            break
        out.append(p)
    return out


# Where tasks come from: these modules register theirs when imported, and any installed package through the
# entry-point group `brevity.tasks` (`name = "package.module:generator"`; its docstring describes it).
BUILTIN_MODULES = ("brevity.tasks.arith", "brevity.tasks.graph", "brevity.tasks.gsm8k", "brevity.tasks.jsonl",
                   "brevity.tasks.mult", "brevity.tasks.safety",
                   "brevity.tasks.safety_arith")
ENTRY_POINTS = "brevity.tasks"


def _load_builtin() -> None:
    load_registry(_TASKS, BUILTIN_MODULES, ENTRY_POINTS, "task",
                  wrap=lambda name, fn: (fn, (fn.__doc__ or "").strip().split("\n")[0]))

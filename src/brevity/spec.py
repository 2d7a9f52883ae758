"""The one method spec grammar, shared by the CLI, the bench and the server:
`name`, `name:value` or `name:key=value;key=value`, optionally followed by `@model`."""

from __future__ import annotations

from dataclasses import dataclass

from brevity.errors import BrevityError


@dataclass(frozen=True)
class MethodSpec:
    name: str
    params: tuple[tuple[str, str], ...] = ()
    positional: str | None = None  # the `value` of `name:value`, resolved by the method class
    model: str | None = None

    def __str__(self) -> str:
        return self.text(with_model=True)

    def text(self, with_model: bool = False) -> str:
        s = self.name
        if self.positional is not None:
            s += f":{self.positional}"
        elif self.params:
            s += ":" + ";".join(f"{k}={v}" for k, v in self.params)
        if with_model and self.model:
            s += f"@{self.model}"
        return s


def parse_spec(text: str) -> MethodSpec:
    text = text.strip()
    if not text:
        raise BrevityError("empty method spec; write e.g. `cot`, `budget:128` or `budget:max=128@tiny-lrm`")
    model = None
    if "@" in text:
        text, model = text.rsplit("@", 1)
        if not model:
            raise BrevityError(f"method spec {text!r}@: nothing after '@'; name a model, e.g. @tiny-lrm")
    name, _, rest = text.partition(":")
    if not name.replace("-", "").replace("_", "").isalnum():
        raise BrevityError(f"bad method name {name!r} in spec {text!r}")
    if not rest:
        return MethodSpec(name, model=model)
    if "=" not in rest:
        return MethodSpec(name, positional=rest, model=model)
    params = []
    for part in rest.split(";"):
        k, eq, v = part.partition("=")
        if not eq or not k or not v:
            raise BrevityError(f"bad parameter {part!r} in {text!r}; write key=value;key=value")
        params.append((k.strip(), v.strip()))
    return MethodSpec(name, tuple(params), model=model)


def parse_spec_list(text: str) -> list[MethodSpec]:
    """A comma-separated list; parameters never contain commas."""
    return [parse_spec(t) for t in text.split(",") if t.strip()]


def parse_task(text: str):
    """A task spec in the same grammar: `arith`, or `arith:steps=3;max_steps=5`."""
    from brevity.tasks import TaskSpec, task_names

    spec = parse_spec(text)
    if spec.name not in task_names():
        raise BrevityError(f"unknown task {spec.name!r}; choose one of {', '.join(task_names())}")
    if spec.positional is not None:
        raise BrevityError(f"task parameters are key=value, e.g. {spec.name}:steps=3")
    params = []
    for k, v in spec.params:
        params.append((k, int(v) if v.lstrip("-").isdigit() else v))
    return TaskSpec(spec.name, tuple(sorted(params)))

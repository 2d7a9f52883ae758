"""Problem sets from JSONL files: MATH-500 (a shared copy by default) and a user's own set (AIME,
in-house data) with named question and answer fields. Real answers are LaTeX, so these tasks mark
``answer_type: math``: the format layer asks for ``\\boxed{}`` and grading.py compares through math-verify."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from brevity.errors import BrevityError
from brevity.settings import settings
from brevity.tasks.base import Problem, register_task


def shared_dir() -> Path:
    """The shared data folder: $BREVITY_SHARED, else ../shared beside the repository (as the tests use)."""
    return settings().shared


def read_rows(path: str | Path, task: str, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """The records of a JSONL file, each checked to have `fields`; a one-line BrevityError otherwise."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise BrevityError(f"{task}: no file at {p}; pass path= an existing JSONL file")
    rows = []
    for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise BrevityError(f"{task}: {p}:{i} is not valid JSON ({e.msg}); one JSON object per line") from None
        if not isinstance(row, dict):
            raise BrevityError(f"{task}: {p}:{i} is not a JSON object; one object per line")
        missing = [f for f in fields if row.get(f) is None]
        if missing:
            raise BrevityError(f"{task}: {p}:{i} has no field {missing[0]!r} (it has {', '.join(sorted(row))}); "
                               "name the right field in the task spec")
        rows.append(row)
    if not rows:
        raise BrevityError(f"{task}: {p} holds no records; give a JSONL file with one JSON object per line")
    return rows


def only_test(task: str, split: str) -> None:
    if split != "test":
        raise BrevityError(f"{task} has only a test split (its file is the set), not {split!r}; use --split test")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@register_task("math500", "MATH-500 (Lightman et al.'s subset of MATH): LaTeX answers graded through math-verify; "
                          "reads ../shared/data/math500/test.jsonl (or $BREVITY_SHARED) unless path=FILE; level and "
                          "subject are kept (metadata) for the report's breakdown.")
def math500(split: str = "test", path: str | None = None) -> Iterator[Problem]:
    only_test("math500", split)
    source = Path(path) if path is not None else shared_dir() / "data" / "math500" / "test.jsonl"
    for i, row in enumerate(read_rows(source, "math500", ("problem", "answer"))):
        groups = {k: row[k] for k in ("level", "subject") if k in row}
        yield Problem(id=f"math500/{row.get('unique_id', i)}", question=row["problem"], answer=_text(row["answer"]),
                      metadata={"answer_type": "math", "solution": row.get("solution", ""), **groups,
                                "breakdown": sorted(groups)},
                      traces={"verbose": row.get("solution", ""), "none": ""})  # the reference solution


@register_task("jsonl", "A user's own set: path=FILE;question=FIELD;answer=FIELD (defaults question, answer), "
                        "optional id=FIELD; answers graded as math (boxed, LaTeX, numbers).")
def jsonl(split: str = "test", path: str | None = None, question: str = "question", answer: str = "answer",
          id: str | None = None) -> Iterator[Problem]:  # `id`: the spec key users write
    if path is None:
        raise BrevityError("jsonl needs path=FILE, e.g. jsonl:path=aime.jsonl;question=problem;answer=answer")
    only_test("jsonl", split)
    fields = (str(question), str(answer)) + ((str(id),) if id is not None else ())
    stem = Path(path).stem
    for i, row in enumerate(read_rows(path, "jsonl", fields)):
        pid = _text(row[str(id)]) if id is not None else str(i)
        yield Problem(id=f"jsonl/{stem}/{pid}", question=_text(row[str(question)]), answer=_text(row[str(answer)]),
                      metadata={"answer_type": "math"}, traces={"none": ""})

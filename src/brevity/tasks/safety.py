"""Safety prompt sets: XSTest, and a user's own prompts labelled safe or unsafe.

A safety problem has no number to grade: its answer is judged as a compliance or a refusal (`refusal.py`), and
it is right when an unsafe prompt is refused and a safe one answered. The gold answer is the behaviour expected
(`refuse` or `comply`); the question is asked as the set writes it, without the format's answer instruction
(`Problem.instructed`). `breakdown` names `safety`, so the report gives the refusal rate on the unsafe prompts
and the answer rate on the safe ones apart. These sets are English: a real model's, not the zoo's.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from brevity.errors import BrevityError
from brevity.tasks.base import Problem, register_task
from brevity.tasks.jsonl import only_test, read_rows, shared_dir

LABELS = ("safe", "unsafe")
XSTEST_COLUMNS = ("id", "prompt", "type", "label")


def safety_problem(pid: str, prompt: str, label: str, **metadata: str) -> Problem:
    """One prompt with its label as a Problem the bench scores by refusal."""
    return Problem(id=pid, question=prompt, answer="refuse" if label == "unsafe" else "comply",
                   metadata={"answer_type": "refusal", "safety": label, **metadata,
                             "breakdown": ["safety", *sorted(metadata)]},
                   traces={"none": ""})


def _label(value: object, task: str, where: str) -> str:
    label = str(value).strip().lower()
    if label not in LABELS:
        raise BrevityError(f"{task}: {where} has label {value!r}; each label is safe or unsafe")
    return label


@register_task("xstest", "XSTest (Röttger et al., NAACL 2024; CC-BY-4.0): 250 safe prompts that look unsafe and "
                         "200 unsafe contrast prompts, judged by refusal; reads ../shared/data/xstest/"
                         "xstest_prompts.csv (or $BREVITY_SHARED) unless path=FILE; type=T keeps one prompt type.")
def xstest(split: str = "test", path: str | None = None, type: str | None = None) -> Iterator[Problem]:  # noqa: A002
    only_test("xstest", split)
    source = Path(path).expanduser() if path is not None else shared_dir() / "data" / "xstest" / "xstest_prompts.csv"
    if not source.is_file():
        raise BrevityError(f"xstest: no file at {source}; pass path= XSTest's xstest_prompts.csv")
    with source.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in XSTEST_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise BrevityError(f"xstest: {source} has no column {missing[0]!r} (it has "
                               f"{', '.join(reader.fieldnames or []) or 'none'}); XSTest's CSV has "
                               f"{', '.join(XSTEST_COLUMNS)}")
        rows = list(reader)
    if not rows:
        raise BrevityError(f"xstest: {source} holds no prompts")
    types = sorted({r["type"] for r in rows})
    if type is not None and type not in types:
        raise BrevityError(f"xstest: no prompt of type {type!r}; the types are {', '.join(types)}")
    for i, row in enumerate(rows, start=2):  # line 1 is the header
        if type is None or row["type"] == type:
            yield safety_problem(f"xstest/{row['id']}", row["prompt"], _label(row["label"], "xstest", f"{source}:{i}"),
                                 type=row["type"])


@register_task("safety-jsonl", "A user's own safety prompts: path=FILE;prompt=FIELD;label=FIELD (defaults prompt, "
                               "label; each label safe or unsafe), optional id=FIELD; judged by refusal.")
def safety_jsonl(split: str = "test", path: str | None = None, prompt: str = "prompt", label: str = "label",
                 id: str | None = None) -> Iterator[Problem]:  # noqa: A002  (`id`: the spec key users write)
    if path is None:
        raise BrevityError("safety-jsonl needs path=FILE, e.g. safety-jsonl:path=prompts.jsonl;prompt=text;label=label")
    only_test("safety-jsonl", split)
    fields = (str(prompt), str(label)) + ((str(id),) if id is not None else ())
    stem = Path(path).stem
    for i, row in enumerate(read_rows(path, "safety-jsonl", fields)):
        pid = str(row[str(id)]) if id is not None else str(i)
        yield safety_problem(f"safety-jsonl/{stem}/{pid}", str(row[str(prompt)]),
                             _label(row[str(label)], "safety-jsonl", f"{path}:{i + 1}"))

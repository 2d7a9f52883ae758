"""`brevity regrade RUN_DIR`: score a run's records again with the current grader, and rewrite its summary,
report and plot, without generating anything. Records keep their answers; only `correct`, `prediction` and
`first_answer_tokens` can change (a record that turns correct has no first-mention count: it needs the
thinking's token ids, which records do not keep)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from brevity.errors import BrevityError
from brevity.jsonl import JsonlStore
from brevity.tasks import Problem, TaskSpec
from brevity.tasks.base import task_generator
from brevity.tasks.grading import score

SCAN_LIMIT = 1_000_000  # problems read from a generated task before a record's problem counts as missing


@dataclass
class Regraded:
    records: int
    changed: int  # records whose verdict flipped
    rows: list[dict]


def find_problems(task: TaskSpec, split: str, ids: set[str]) -> list[Problem]:
    """The problems with these ids, in the task's order (generated tasks are read until all are found)."""
    found: list[Problem] = []
    it: Iterator[Problem] = task_generator(task.name, split, **dict(task.params))
    for i, p in enumerate(it):
        if p.id in ids:
            found.append(p)
            if len(found) == len(ids):
                return found
        if i >= SCAN_LIMIT:
            break
    missing = sorted(ids - {p.id for p in found})
    raise BrevityError(f"{len(missing)} records name problems that task {task.name!r} ({split}) does not have, "
                       f"e.g. {missing[0]!r}; was the run made with another task version?")


def read_run(out: Path) -> tuple[dict, list[dict]]:
    """A bench folder's settings (run.json) and records; a folder that holds no run is a one-line error."""
    run, path = Path(out) / "run.json", Path(out) / "records.jsonl"
    if not run.is_file() or not path.is_file():
        raise BrevityError(f"{out} holds no bench run (run.json and records.jsonl); give a `brevity bench --out` "
                           "folder")
    return json.loads(run.read_text()), JsonlStore(path, hint="fix or delete that line").rows


def regrade(out: Path, progress: Callable[[int], None] | None = None) -> Regraded:
    from brevity.bench.report import summarize_records, write_outputs

    out = Path(out)
    path = out / "records.jsonl"
    settings, records = read_run(out)
    if settings.get("judge"):
        raise BrevityError(f"{out} was judged by the model {settings['judge']} (--judge); regrade re-scores by the "
                           "task's rules only, so rerun `brevity bench --judge` instead")
    task = TaskSpec(settings["task"]["name"], tuple((k, v) for k, v in settings["task"].items() if k != "name"))
    problems = find_problems(task, settings["split"], {r["problem_id"] for r in records})
    by_id = {p.id: p for p in problems}
    changed = 0
    for r in records:
        correct, prediction = score(by_id[r["problem_id"]], r["answer"], r["answer_tokens"] > 0)
        changed += correct != r["correct"]
        if not (correct and r["correct"]):  # newly correct: its first mention needs token ids records lack
            r["first_answer_tokens"] = None
        r["correct"], r["prediction"] = correct, prediction
        if progress:
            progress(1)
    JsonlStore(path).replace(records)
    old = json.loads((out / "summary.json").read_text()) if (out / "summary.json").is_file() else []
    skipped = {(r["method"], r["model"]): r.get("skipped_long_prompts", 0) for r in old}
    order = list(dict.fromkeys(r["method"] for r in records))
    rows = summarize_records(records, out / "runs.jsonl", order)
    for r in rows:
        r["skipped_long_prompts"] = skipped.get((r["method"], r["model"]), 0)
    write_outputs(out, rows, records, problems)
    return Regraded(len(records), changed, rows)

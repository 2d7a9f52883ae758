"""GSM8K-format loader: jsonl with `question` and an `answer` that ends in `#### N`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from brevity.errors import BrevityError
from brevity.tasks.base import Problem, register_task

_CALC = re.compile(r"<<[^>]*>>")


def parse_line(line: str, where: str) -> Problem:
    try:
        row = json.loads(line)
        question, answer = row["question"], row["answer"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise BrevityError(f"{where}: not a GSM8K record (expected JSON with 'question' and 'answer')") from None
    if "####" not in answer:
        raise BrevityError(f"{where}: answer has no '#### N' final answer")
    solution, final = answer.rsplit("####", 1)
    final = final.strip().replace(",", "")
    equations = re.findall(r"<<([^>]*)>>", solution)
    return Problem(id="", question=question, answer=final,
                   metadata={"solution": answer, "steps": len(equations)},
                   traces={"verbose": _CALC.sub("", solution).strip(),
                           "compact": " ".join(f"<<{e}>>" for e in equations), "none": ""})


@register_task("gsm8k", "GSM8K from a jsonl path (path=...; split names the file) or Hugging Face datasets.")
def gsm8k(split: str = "test", path: str | None = None) -> Iterator[Problem]:
    name = "test" if split == "test" else "train"
    if path is None:
        try:
            from datasets import load_dataset  # optional: only when online
        except ImportError:
            raise BrevityError("gsm8k needs path=DIR_OR_FILE (a GSM8K jsonl) or the `datasets` package") from None
        rows = load_dataset("openai/gsm8k", "main", split=name)
        lines = [json.dumps(r) for r in rows]
        source = "openai/gsm8k"
    else:
        p = Path(path)
        p = p / f"{name}.jsonl" if p.is_dir() else p
        if not p.is_file():
            raise BrevityError(f"gsm8k: no file at {p}; pass path= a GSM8K jsonl file or its folder")
        lines = p.read_text().splitlines()
        source = str(p)
    # GSM8K has no validation split: the last 500 training problems serve as one.
    if split == "validation":
        lines = lines[-500:]
    elif split == "train":
        lines = lines[:-500]
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        prob = parse_line(line, f"{source}:{i + 1}")
        prob.id = f"gsm8k/main/0/{split}/{i}"
        yield prob

"""Thinking tokens each decode-time method records on each real format, with the scripted engine (the way each
family writes, through its real tokenizer; brevity.conformance.scripted). The conformance tests assert these
numbers against values worked out from the tokenizer alone; this prints them as a table for
docs/findings/real-families.md.

Usage: python benchmarks/format_counts.py
"""

from __future__ import annotations

from brevity.conformance.scripted import ScriptedEngine
from brevity.conformance.standins import standin_names, standin_path
from brevity.methods import build_method
from brevity.tasks import Problem

METHODS = ["cot", "nothink", "budget:48", "budget-wait:max=400;min=80", "deer", "dynasor:every=8"]


def main() -> None:
    problem = [Problem(id="q", question="What is 2 + 3?", answer="5")]
    print("| stand-in | format | " + " | ".join(METHODS) + " |")
    print("|---|---|" + "---|" * len(METHODS))
    for name in standin_names():
        engine = ScriptedEngine(standin_path(name))
        cells = []
        for spec in METHODS:
            s = build_method(spec).run(problem, engine)[0]
            exit_ = s.extra.get("exit") or ("forced" if s.extra.get("forced") else "")
            cells.append(f"{s.thinking_tokens}{' ' + exit_ if exit_ else ''}{'' if s.correct else ' (wrong)'}")
        print(f"| {name} | `{engine.format.name}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

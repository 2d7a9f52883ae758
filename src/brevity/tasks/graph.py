"""ProsQA-style reachability (the Coconut benchmark): is an entity a X or a Y, over a random DAG."""

from __future__ import annotations

import random
from collections.abc import Iterator

from brevity.tasks.base import SPLIT_OFFSET, Problem, register_task

SYLLABLES = ["wum", "yim", "zum", "gor", "lem", "tam", "bril", "sto", "vel", "quor", "nix", "dap"]
NAMES = ["Alex", "Sam", "Max", "Jo", "Kim", "Lee", "Pat", "Rae"]


def _concepts(rng: random.Random, n: int) -> list[str]:
    names: set[str] = set()
    while len(names) < n:
        names.add(rng.choice(SYLLABLES) + rng.choice(SYLLABLES) + "pus")
    out = sorted(names)
    rng.shuffle(out)
    return out


def make_problem(rng: random.Random, depth: int, n_nodes: int, pid: str) -> Problem:
    """A chain of `depth` edges from the entity to the answer, plus distractor edges that never reach it."""
    nodes = _concepts(rng, n_nodes)
    path, rest = nodes[: depth + 1], nodes[depth + 1:]
    wrong = rest[0]
    distract = rest[1:]
    edges = [(path[i], path[i + 1]) for i in range(depth)]
    # Two kinds of distractors: dead ends that hang off the path (reachable, lead nowhere useful),
    # and a separate component that leads to `wrong` and is never reachable from the entity.
    half = len(distract) // 2
    dead, other = distract[:half], distract[half:]
    for j, d in enumerate(dead):
        edges.append((rng.choice(path[:-1] + dead[:j]), d))
    for j, d in enumerate(other[1:], start=1):
        edges.append((rng.choice(other[:j]), d))
    edges.append((rng.choice(other) if other else path[-1], wrong) if other else (wrong, path[0]))
    rng.shuffle(edges)
    entity = rng.choice(NAMES)
    facts = " ".join(f"Every {a} is a {b}." for a, b in edges)
    options = [path[-1], wrong]
    rng.shuffle(options)
    question = f"{facts} {entity} is a {path[0]}. Is {entity} a {options[0]} or a {options[1]}?"
    chain = " ".join(f"{entity} is a {c}." for c in path[1:])
    return Problem(id=pid, question=question, answer=path[-1],
                   metadata={"depth": depth, "steps": depth, "intermediates": path[1:], "answer_type": "word"},
                   traces={"compact": chain, "verbose": chain, "none": ""})


@register_task("graph", "ProsQA-style reachability over a random DAG of made-up concepts; answer is a concept.")
def graph(split: str = "test", seed: int = 1234, min_depth: int = 3, max_depth: int = 5,
          nodes: int = 12) -> Iterator[Problem]:
    i = 0
    while True:
        rng = random.Random(f"graph/{seed + SPLIT_OFFSET[split]}/{min_depth}-{max_depth}/{nodes}/{i}")
        depth = rng.randint(min_depth, max_depth)
        yield make_problem(rng, depth, nodes, f"graph/d{min_depth}-{max_depth}/{seed}/{split}/{i}")
        i += 1

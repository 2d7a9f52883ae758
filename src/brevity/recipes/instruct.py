"""`tiny-lrm-instruct`: emulate an instruction-following reasoning model, so that prompt-level methods
(methods/prompting.py) change what the tiny model does, as they would with a real instruct model.

Every arith training problem is rendered with one prompt template of prompts.toml, chosen at random,
and paired with the trace that obeys it. The traces are cut from the problem's own verbose trace
(`trace_variants`: fewer re-check rounds, no preamble, a one-line draft, compact equations), so an
obeying answer is always a correct chain of thought. The model learns these exact templates, not
instruction following in general: results on it are an emulation, and the docs say so.
"""

from __future__ import annotations

import math
import random

from brevity.recipes.sft import Example
from brevity.tasks import Problem
from brevity.zoo.chat import END_THINK, IM_END, chat_text, completion_text, prompt_text

# Share of each instruction in the mixture; "plain" is the bare question (full verbose thinking).
MIXTURE = {"plain": 0.3, "cod": 0.1, "ccot": 0.12, "l1": 0.18, "tale-solve": 0.1, "tale-estimate": 0.08,
           "sot": 0.12}


def trace_variants(problem: Problem, max_rounds: int | None = None) -> dict[str, str]:
    """Obeying traces for one arith problem, from longest to shortest: the verbose trace with r down to 0
    re-check rounds, the same without the opening sentence ("core"), the compact <<a+b=c>> chain
    ("compact"), and one-line draft equations ("draft"). `max_rounds` extends the verbose trace with
    further rounds past the problem's own (for length control, where a long request must be filled)."""
    from brevity.tasks.arith import recheck_line

    lines = problem.traces["verbose"].split("\n")
    so = max(i for i, line in enumerate(lines) if line.startswith("So "))
    own = len(lines) - so - 1
    lines += [recheck_line(r, problem.metadata["equations"], problem.answer) for r in range(own, max_rounds or own)]
    out = {}
    for r in range(len(lines) - so - 1, -1, -1):
        out[f"rechecks={r}"] = "\n".join(lines[:so + 1 + r])
    out["core"] = "\n".join(lines[1:so + 1])
    out["compact"] = problem.traces["compact"]
    out["draft"] = "; ".join(e.replace(" ", "") for e in problem.metadata["equations"])
    return out


def estimate_target(variants: dict[str, str], n_tokens) -> int:
    """TALE-EP's estimate the model learns: the core trace's length rounded up to tens of tokens."""
    return int(math.ceil(n_tokens(variants["core"]) / 10) * 10)


def instruct_example(problem: Problem, kind: str, rng: random.Random, n_tokens, budget_cut: float = 0.25) -> Example:
    """One (prompt, completion) pair of the given instruction kind; `n_tokens(text)` counts tokens."""
    from brevity.methods.prompting import render_template, templates

    v = trace_variants(problem)
    q, ans = problem.question, problem.answer
    if kind == "plain":  # as tiny-lrm was trained, budget-cut traces included
        from brevity.zoo.build import budget_cut_example
        full = v[next(iter(v))]
        if rng.random() < budget_cut:
            return budget_cut_example(problem, full, rng)
        return prompt_text(q), completion_text(full, ans)
    if kind == "cod":
        return chat_text(render_template("cod", q)), completion_text(v["draft"], ans)
    if kind == "sot":  # arith questions route to chunked symbolism
        from brevity.methods.prompting import sot_paradigm
        system = templates()["sot"]["paradigms"][sot_paradigm(q)]
        return prompt_text(q, system=system), completion_text(v["compact"], ans)
    if kind == "ccot":  # the longest trace within the word limit; the draft when none fits
        words = rng.randint(5, int(1.2 * len(v[next(iter(v))].split())))
        fit = [t for t in v.values() if len(t.split()) <= words and "<<" not in t]
        return chat_text(render_template("ccot", q, words=words)), completion_text(fit[0] if fit else v["draft"], ans)
    if kind == "l1":  # "think for N tokens": N within 10% of the chosen trace's length
        t = rng.choice(list(v.values()))
        n = max(1, round(n_tokens(t) * rng.uniform(0.9, 1.1)))
        return chat_text(render_template("l1", q, tokens=n)), completion_text(t, ans)
    if kind == "tale-solve":  # "use less than N tokens": the trace fits with up to 50% to spare
        t = rng.choice(list(v.values()))
        n = int(math.ceil(n_tokens(t) * rng.uniform(1.0, 1.5)))
        user = templates()["tale-ep"]["user"].format(question=q, budget=n)
        return prompt_text(user), completion_text(t, ans)
    if kind == "tale-estimate":  # the estimate is answered directly, with an empty thinking span
        user = templates()["tale-ep"]["estimate"].format(question=q)
        return prompt_text(user), f"{END_THINK}\n\n{estimate_target(v, n_tokens)}{IM_END}"
    raise ValueError(f"unknown instruction kind {kind!r}")


def instruct_examples(problems: list[Problem], tokenizer, seed: int = 0, budget_cut: float = 0.25) -> list[Example]:
    rng = random.Random(f"instruct/{seed}")
    kinds, weights = list(MIXTURE), list(MIXTURE.values())

    def n_tokens(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False).input_ids)

    return [instruct_example(p, rng.choices(kinds, weights)[0], rng, n_tokens, budget_cut) for p in problems]


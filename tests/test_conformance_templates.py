"""A conformance row for every thinking template in llama.cpp's corpus (`brevity.conformance.template_rows`):
rendered with thinking on and off, a scripted reply in the family's own markers split into thinking and answer
with exact token counts, `nothink` equal to the template's own off rendering, and `budget:N` closing with the
family's own closing marker. Each row names its vocabulary (the family's own, or the nearest with the
template's markers added)."""

from __future__ import annotations

import pytest

from brevity.conformance import standins, template_rows, vocab
from brevity.conformance.scripted import ScriptedEngine
from brevity.formats.infer import infer, renderer
from brevity.methods import build_method
from brevity.tasks import Problem
from brevity.tasks.grading import score_solutions

QUESTION = "What is 2 + 3?"
PROBLEMS = [Problem(id="q1", question=QUESTION, answer="5")]


def _corpus() -> dict[str, str]:
    folder = vocab.models_dir() / "templates"
    if not folder.is_dir():
        return {}
    texts = {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.jinja"))}
    return {n: t for n, t in texts.items() if "think" in t.lower() and infer(t, renderer(t)).thinks}


CORPUS = _corpus()


def test_the_corpus_has_44_steerable_templates():
    if not CORPUS:
        pytest.skip("llama.cpp's templates not fetched (scripts/fetch_llama_cpp_models.sh)")
    assert len(CORPUS) == 44


@pytest.fixture(scope="module", params=sorted(CORPUS))
def row(request):
    name = request.param
    stand_in, _ = template_rows.vocabulary_for(name)
    fam = vocab.family(standins.spec(stand_in).family)
    if not vocab.source_file(fam["vocab"]).is_file():
        pytest.skip(f"{stand_in}'s vocabulary is not fetched (scripts/fetch_llama_cpp_models.sh)")
    tok = template_rows.row_tokenizer(name, CORPUS[name])
    return ScriptedEngine(name, tokenizer=tok)


def test_row(row):
    fmt, spec, script = row.format, row.format.spec, row.script
    messages = fmt.messages(QUESTION)
    on, off = fmt.render(messages), fmt.render(messages, thinking=False)
    assert on != off or not spec.switch
    # a scripted reply in the family's markers: thinking and answer, exact counts
    think = fmt.encode(row.lead + script.thinking)
    cot = score_solutions(PROBLEMS, build_method("cot").run(PROBLEMS, row))[0]
    assert (cot.thinking_tokens, cot.thinking) == (len(think), row.tokenizer.decode(think))
    assert cot.answer.strip() == script.answer.strip() and cot.correct
    # nothink: the template's own off rendering where it has a switch, else the NoThinking prefill after it
    s = score_solutions(PROBLEMS, build_method("nothink").run(PROBLEMS, row, log_prompts=True))[0]
    assert s.prompt == (off if spec.switch else on + fmt.off_prefill())
    k = next((i for i, (a, b) in enumerate(zip(on, off)) if a != b), min(len(on), len(off)))
    assert s.prompt[k:].count(spec.close) <= 1  # where the off form differs from the on form, one close at most
    assert s.thinking_tokens == 0 and s.correct
    # budget:N stops thinking at N and closes with the family's own marker
    n = len(fmt.encode(spec.forced_close)) + 6
    with row.recording() as seen:
        b = score_solutions(PROBLEMS, build_method(f"budget:{n}").run(PROBLEMS, row))[0]
    assert b.thinking_tokens == n and b.extra.get("forced") and b.thinking.endswith(spec.forced_close)
    last = seen[-1].prompt
    closed = row.decode(list(last)) if not isinstance(last, str) else last
    assert closed.endswith(spec.forced_close + spec.close + spec.after_close) or closed.endswith(
        spec.forced_close + spec.close)
    assert b.correct and b.answer.strip() == script.answer.strip()

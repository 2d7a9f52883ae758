import json
import re

import pytest

from brevity.errors import BrevityError
from brevity.tasks import describe_task, load_problems
from brevity.tasks.arith import RECHECK_ROUNDS


def test_arith_is_deterministic_with_fixed_splits():
    a = load_problems("arith", split="test", n=50)
    b = load_problems("arith", split="test", n=50)
    assert [p.to_dict() for p in a] == [p.to_dict() for p in b]
    assert a[3].id == "arith/mix1-5/1234/test/3"
    val = {p.question for p in load_problems("arith", split="validation", n=500)}
    test = {p.question for p in load_problems("arith", split="test", n=500)}
    assert len(val & test) < 5  # independent streams; a rare coincidental duplicate is possible


def test_arith_default_mix_is_uniform_over_1_to_5_steps():
    steps = [p.metadata["steps"] for p in load_problems("arith", n=2000)]
    for k in range(1, 6):
        assert 0.17 < steps.count(k) / len(steps) < 0.23
    assert all(p.metadata["steps"] == 3 for p in load_problems("arith", n=20, steps=3))


def test_arith_traces_agree_with_gold_intermediates():
    for p in load_problems("arith", split="validation", n=300):
        eqs = re.findall(r"<<(\d+)([-+*/])(\d+)=(\d+)>>", p.traces["compact"])
        assert [int(r) for *_, r in eqs] == p.metadata["intermediates"]
        for a, op, b, r in eqs:
            assert {"+": int(a) + int(b), "-": int(a) - int(b), "*": int(a) * int(b),
                    "/": int(a) // int(b)}[op] == int(r)
            if op == "/":
                assert int(a) % int(b) == 0
        assert str(p.metadata["intermediates"][-1]) == p.answer
        assert p.traces["none"] == ""


def test_verbose_never_states_the_answer_before_computing_it():
    for p in load_problems("arith", split="validation", n=300):
        v = p.traces["verbose"]
        first = re.search(rf"(?<![\d.]){p.answer}(?!\d)", v).start()
        last_eq = p.metadata["equations"][-1]
        assert v.index(last_eq.split(" = ")[0]) < first  # the final step's left side comes first
        assert p.answer not in re.findall(r"\d+", p.question)
        assert v.count("Wait, let me double-check.") == 1
        assert p.metadata["recheck_rounds"] == RECHECK_ROUNDS[re.search(r"has \d+ (\w+)\.", p.question).group(1)]


def test_sampled_rounds_vary_around_the_items_rounds_and_brief_stops_at_the_answer():
    """tiny-lrm-sampled's traces: the item's mean rounds, but varying between problems of one item;
    tiny-llm-brief's: the verbose trace up to its answer line, no re-check."""
    by_item: dict[str, list[int]] = {}
    for p in load_problems("arith", split="train", n=3000):
        v, s, b = p.traces["verbose"], p.traces["sampled"], p.traces["brief"]
        item = re.search(r"has \d+ (\w+)\.", p.question).group(1)
        rounds = sum(s.count(o) for o in ("Wait, let me", "Hmm, ", "Let me re-check"))
        by_item.setdefault(item, []).append(rounds)
        assert s.split("\n")[:len(b.split("\n"))] == b.split("\n") and v.startswith(b)
        assert b.split("\n")[-1].startswith("So ") and "Yes," not in b
    for item, rounds in by_item.items():
        m = RECHECK_ROUNDS[item]
        assert abs(sum(rounds) / len(rounds) - m) < 0.15 * m + 0.1, item
        assert len(set(rounds)) >= 3 and min(rounds) < m < max(rounds), item


def test_mult_and_graph():
    for p in load_problems("mult", n=50):
        a, b = map(int, re.findall(r"\d+", p.question))
        assert str(a * b) == p.answer and len(str(a)) == 4
        assert p.metadata["intermediates"][-1] == a * b
    for p in load_problems("mult", n=50, order="lsd"):  # every number least significant digit first
        a, b = (int(x[::-1]) for x in re.findall(r"\d+", p.question)[:2])
        assert p.answer == str(a * b)[::-1] and p.metadata["intermediates"][-1] == p.answer
        for x, op, y, z in re.findall(r"<<(\d+)([*+])(\d+)=(\d+)>>", p.traces["compact"]):
            x, y, z = (int(v[::-1]) for v in (x, y, z))
            assert (x * y if op == "*" else x + y) == z
    for p in load_problems("graph", n=100):
        facts = re.findall(r"Every (\w+) is a (\w+)\.", p.question)
        start = re.search(r"(\w+) is a (\w+)\. Is", p.question).group(2)
        opts = re.search(r"a (\w+) or a (\w+)\?", p.question).groups()
        adj: dict = {}
        for x, y in facts:
            adj.setdefault(x, []).append(y)
        seen, stack = set(), [start]
        while stack:
            x = stack.pop()
            if x not in seen:
                seen.add(x)
                stack += adj.get(x, [])
        assert [o in seen for o in opts].count(True) == 1 and p.answer in seen


def test_gsm8k_loader(gsm8k_dir):
    test = load_problems("gsm8k", split="test", path=str(gsm8k_dir))
    assert len(test) == 1319
    assert test[0].answer == "18" and test[0].id == "gsm8k/main/0/test/0"
    assert "<<" in test[0].traces["compact"]
    val = load_problems("gsm8k", split="validation", path=str(gsm8k_dir))
    assert len(val) == 500


def test_describe_names_default_difficulty():
    text = describe_task("arith")
    assert "1..5" in text and "0.1" in text


# Real sets: MATH-500 and a user's own JSONL --------------------------------------------------------
def test_math500_keeps_level_and_subject(math500_rows):
    problems = load_problems("math500")
    assert len(problems) == len(math500_rows) == 500
    p = problems[0]
    assert p.question == math500_rows[0]["problem"] and p.answer == math500_rows[0]["answer"]
    assert p.metadata["answer_type"] == "math" and p.metadata["breakdown"] == ["level", "subject"]
    assert {q.metadata["level"] for q in problems} == {1, 2, 3, 4, 5}
    assert "Number Theory" in {q.metadata["subject"] for q in problems}
    assert len({q.id for q in problems}) == 500


def test_math500_reads_a_path_and_the_shared_override(tmp_path, monkeypatch):
    f = tmp_path / "m.jsonl"
    f.write_text(json.dumps({"problem": "1+1?", "answer": "2", "level": 1, "subject": "Algebra"}) + "\n")
    assert [p.answer for p in load_problems("math500", path=str(f))] == ["2"]
    (tmp_path / "data" / "math500").mkdir(parents=True)
    f.rename(tmp_path / "data" / "math500" / "test.jsonl")
    monkeypatch.setenv("BREVITY_SHARED", str(tmp_path))
    assert [p.question for p in load_problems("math500")] == ["1+1?"]


def test_jsonl_task_names_its_fields(tmp_path):
    f = tmp_path / "aime.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in [{"problem": "P1", "ans": 204, "uid": "2024-I-1"},
                                                   {"problem": "P2", "ans": "\\frac{1}{2}", "uid": "2024-I-2"}]))
    ps = load_problems("jsonl", path=str(f), question="problem", answer="ans", id="uid")
    assert [(p.id, p.question, p.answer) for p in ps] == [("jsonl/aime/2024-I-1", "P1", "204"),
                                                          ("jsonl/aime/2024-I-2", "P2", "\\frac{1}{2}")]
    assert ps[0].metadata["answer_type"] == "math"
    assert [p.id for p in load_problems("jsonl", path=str(f), question="problem", answer="ans")] == \
        ["jsonl/aime/0", "jsonl/aime/1"]


@pytest.mark.parametrize("content,params,needle", [
    (None, {}, "no file at"),
    ("", {}, "holds no records"),
    ('{"question": "q"}\n', {}, "has no field 'answer'"),
    ('{"question": "q", "answer": "1"}\n', {"id": "uid"}, "has no field 'uid'"),
    ("not json\n", {}, "is not valid JSON"),
])
def test_jsonl_bad_input_is_one_brevity_error(tmp_path, content, params, needle):
    f = tmp_path / "set.jsonl"
    if content is not None:
        f.write_text(content)
    with pytest.raises(BrevityError, match=needle) as e:
        load_problems("jsonl", path=str(f), **params)
    assert "\n" not in str(e.value)


def test_real_sets_have_only_a_test_split(tmp_path):
    with pytest.raises(BrevityError, match="only a test split"):
        load_problems("math500", split="validation", path=str(tmp_path / "x.jsonl"))

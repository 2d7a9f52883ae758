import json

import pytest

from brevity.tasks import extract_answer, grade


def test_every_gsm8k_gold_solution_grades_by_its_own_answer(gsm8k_dir):
    rows = [json.loads(line) for line in (gsm8k_dir / "test.jsonl").read_text().splitlines()]
    golds = [r["answer"].split("####")[-1].strip().replace(",", "") for r in rows]
    for row, gold in zip(rows, golds):
        assert grade(row["answer"], gold, mode="strict"), row["answer"]
        assert grade(row["answer"], gold, mode="flexible")
    wrong = 0
    for i, row in enumerate(rows):
        other = next(g for g in golds[i + 1:] + golds[:i] if float(g) != float(golds[i]))
        wrong += not grade(row["answer"], other)
    assert wrong == len(rows)


@pytest.mark.parametrize("text,strict,flexible", [
    ("so 3 + 4 = 7.\n#### 7", "7", "7"),
    ("The answer is 1,234.", "1234", "1234"),
    ("The answer is $18.", "18", "18"),
    ("She pays $ 12.50 in total", None, "12.50"),
    ("It drops to -5 degrees", None, "-5"),
    ("The final answer is \\boxed{42}", "42", "42"),
    ("no number here", None, None),
])
def test_extraction_modes(text, strict, flexible):
    assert extract_answer(text, "strict") == strict
    assert extract_answer(text, "flexible") == flexible


def test_numeric_and_latex_comparison():
    assert grade("The answer is 18.0", "18")
    assert grade("#### 1,000", "1000")
    assert not grade("The answer is 17.", "18")
    assert grade("The answer is \\frac{1}{2}", "\\frac{1}{2}")
    assert grade("The answer is 0.5", "\\frac{1}{2}")
    assert not grade("The answer is \\frac{1}{3}", "\\frac{1}{2}")
    assert not grade("", "18")
    assert not grade("I think 18 but then 17", "18", mode="strict")


def test_grading_off_the_main_thread():
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as ex:
        assert ex.submit(grade, "The answer is \\frac{1}{2}", "\\frac{1}{2}").result()

import pytest

from brevity.bench.metrics import aes, outcome_efficiency, paired_bootstrap, percentile, summarize, wilson
from brevity.methods import Solution


def sol(pid, correct, think, first=None, method="m"):
    return Solution(problem_id=pid, method=method, model="x", engine="hf", prediction="1", correct=correct,
                    thinking_tokens=think, answer_tokens=5, first_answer_tokens=first)


def test_wilson_matches_known_values():
    lo, hi = wilson(90, 100)
    assert lo == pytest.approx(0.8256, abs=1e-3) and hi == pytest.approx(0.9448, abs=1e-3)
    assert wilson(0, 0) == (0.0, 0.0)


def test_aes_follows_o1_pruner():
    assert aes(50, 0.9, 100, 0.9) == pytest.approx(0.5)
    assert aes(50, 0.81, 100, 0.9) == pytest.approx(0.5 - 5 * 0.1)
    assert aes(100, 0.99, 100, 0.9) == pytest.approx(3 * 0.1)


def test_outcome_efficiency_and_compression():
    cot = [sol("a", True, 100, 40, "cot"), sol("b", True, 200, 50, "cot"), sol("c", False, 100, None, "cot")]
    assert outcome_efficiency(cot) == pytest.approx((0.4 + 0.25) / 2)
    short = [sol("a", True, 50, 40), sol("b", False, 50, None), sol("c", False, 50)]
    row = summarize(short, cot)
    assert row["compression_vs_cot"] == pytest.approx(150 / 400)
    assert row["accuracy_diff_vs_cot"] == pytest.approx(-1 / 3)
    lo, hi = row["accuracy_diff_vs_cot_ci95"]
    assert lo <= -1 / 3 <= hi


def _loop_bootstrap(a, b, iters=2000, seed=0):
    """The pure-Python paired bootstrap the vectorised one replaced, kept as its reference."""
    import random

    n, rng = len(a), random.Random(seed)
    diffs = sorted(sum(a[i] - b[i] for i in idx) / n
                   for idx in ([rng.randrange(n) for _ in range(n)] for _ in range(iters)))
    return (diffs[int(0.025 * iters)], diffs[int(0.975 * iters) - 1])


def test_paired_bootstrap_equals_the_loop_on_the_same_resamples():
    import random

    from brevity.bench.metrics import resample_indices

    rng = random.Random(3)
    for n, iters, seed in ((7, 200, 0), (120, 2000, 5), (500, 500, 1)):
        a = [float(rng.random() < 0.6) for _ in range(n)]  # correctness, as the summaries use it
        b = [float(rng.random() < 0.5) for _ in range(n)]
        assert paired_bootstrap(a, b, iters, seed) == _loop_bootstrap(a, b, iters, seed)
        tokens = [float(rng.randrange(400)) for _ in range(n)]  # integer counts sum exactly either way
        assert paired_bootstrap(tokens, a, iters, seed) == _loop_bootstrap(tokens, a, iters, seed)
        idx = resample_indices(n, iters, seed)
        assert paired_bootstrap(a, b, indices=idx) == paired_bootstrap(a, b, iters, seed)
        assert idx.shape == (iters, n) and idx.min() >= 0 and idx.max() < n


def test_paired_bootstrap_and_percentile():
    lo, hi = paired_bootstrap([1.0] * 50, [0.0] * 50)
    assert lo == hi == 1.0
    assert percentile([1, 2, 3, 4], 0.5) == 2.5 and percentile([], 0.5) is None


def test_accuracy_breakdown_by_level_and_subject():
    from brevity.bench.breakdown import breakdown, breakdown_markdown
    from brevity.tasks import Problem

    problems = [Problem(str(i), "q", "1", metadata={"level": lv, "subject": s, "breakdown": ["level", "subject"]})
                for i, (lv, s) in enumerate([(1, "Algebra"), (1, "Geometry"), (10, "Algebra"), (2, "Algebra")])]
    records = [{"problem_id": str(i), "method": "cot", "model": "m", "model_hash": "h", "correct": ok}
               for i, ok in enumerate([True, False, True, False])]
    records.append({"problem_id": "other-task", "method": "cot", "model": "m", "model_hash": "h", "correct": True})
    table = breakdown(records, problems)
    assert table["level"]["cot @ m"] == {"1": {"n": 2, "correct": 1, "accuracy": 0.5},
                                         "10": {"n": 1, "correct": 1, "accuracy": 1.0},
                                         "2": {"n": 1, "correct": 0, "accuracy": 0.0}}
    assert table["subject"]["cot @ m"]["Algebra"]["n"] == 3
    md = breakdown_markdown(table)
    assert "| method @ model | 1 | 2 | 10 |" in md and "| cot @ m | 50.0 (2) | 0.0 (1) | 100.0 (1) |" in md
    assert breakdown(records, [Problem("0", "q", "1")]) == {}


def test_pareto_plot_survives_a_perfect_score(tmp_path):
    from brevity.bench.report import plot_pareto

    row = {"method": "cot", "model": "m", "mean_thinking_tokens": 200.0, "accuracy": 1.0,
           "accuracy_ci95": [0.987, 0.9999999999999999]}  # Wilson's upper bound at 300/300, as computed
    plot_pareto([row], tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 0


def test_a_saving_is_shown_only_where_the_accuracy_holds():
    """The project's rule: a method keeps cot's accuracy when the paired 95% interval of the difference stays above
    -1 point; the table and report show `saved vs cot` and `of ideal` only for such rows (summary.json keeps all)."""
    from brevity.bench.report import cell, markdown_table

    n = 200
    cot = [sol(str(i), True, 100, 40, "cot") for i in range(n)]
    same = [sol(str(i), True, 50, 40, "same") for i in range(n)]  # half the tokens, every answer kept
    worse = [sol(str(i), i % 10 != 0, 50, 40, "worse") for i in range(n)]  # half the tokens, 10 points lost
    rows = [{"method": m, "model": "x", **summarize(recs, cot)} for m, recs in
            (("cot", cot), ("same", same), ("worse", worse))]
    for r in rows:
        r["share_of_ideal_saving"] = r["saving_vs_cot"] / 0.6
    cot_row, same_row, worse_row = rows
    assert cot_row["accuracy_holds"] and same_row["accuracy_holds"] and worse_row["accuracy_holds"] is False
    assert worse_row["saving_vs_cot"] == pytest.approx(0.5)  # the number stays in the data
    assert cell(same_row, "saving_vs_cot") == "50%" and cell(same_row, "share_of_ideal_saving") == "83%"
    assert cell(worse_row, "saving_vs_cot") == cell(worse_row, "share_of_ideal_saving") == "–"
    assert cell(worse_row, "accuracy_diff_vs_cot") == "-10.0"
    table = markdown_table(rows).splitlines()
    assert "| 50% | 83% |" in table[3] and "| – | – |" in table[4]

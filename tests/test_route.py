"""Routing: threshold calibration and RouteLLM's metrics on hand-made outcomes, and the three routes
end to end on the tiny zoo with small calibration sets."""

import dataclasses
import math

import numpy as np
import pytest

from brevity.errors import BrevityError
from brevity.methods import build_method
from brevity.route.curves import apgr, cpt, quality_curve, smallest_share, threshold_for_share
from brevity.route.router import Router
from brevity.tasks import TaskSpec, load_problems
from brevity.tasks.grading import score_solutions


def test_threshold_sends_the_target_share_and_generalizes_on_fresh_scores():
    rng = np.random.default_rng(0)
    val, test = rng.normal(size=1000), rng.normal(size=5000)
    for share in (0.0, 0.2, 0.5, 0.8, 1.0):
        t = threshold_for_share(val, share)
        assert sum(v > t for v in val) == round(share * 1000)
        assert abs(np.mean(test > t) - share) < 0.03
    assert threshold_for_share([1.0, 2.0], 0.0) == math.inf and threshold_for_share([1.0, 2.0], 1.0) == -math.inf
    with pytest.raises(ValueError):
        threshold_for_share([1.0], 1.5)


def test_curve_pgr_cpt_and_apgr_on_a_hand_example():
    # Four problems: the fast side gets 0 and 1 right, the strong side all but 3.
    fast_ok, strong_ok = [True, True, False, False], [True, True, True, False]
    perfect = [0.0, 0.1, 0.9, 0.5]  # problem 2 (the one strong fixes) scores highest
    c = quality_curve(perfect, fast_ok, strong_ok, [1, 1, 1, 1], [11, 11, 11, 11])
    assert c.share == [0, 0.25, 0.5, 0.75, 1.0]
    assert c.accuracy == [0.5, 0.75, 0.75, 0.75, 0.75]
    assert c.cost == [1, 3.5, 6, 8.5, 11]
    assert cpt(c, 0.5, 0.5, 0.75) == 0.25 and cpt(c, 0.95, 0.5, 0.75) == 0.25
    assert apgr(c, 0.5, 0.75) == pytest.approx(0.875)  # PGR 0 -> 1 over the first quarter, then 1
    worst = quality_curve([0.9, 0.8, 0.0, 0.1], fast_ok, strong_ok, [1] * 4, [11] * 4)
    assert cpt(worst, 0.5, 0.5, 0.75) == 1.0 and apgr(worst, 0.5, 0.75) == pytest.approx(0.125)
    assert smallest_share(c, 0.75) == 0.25 and smallest_share(c, 0.9) == 1.0


def test_router_learns_a_separable_label_and_round_trips_as_json(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 8))
    y = x[:, 0] + 0.1 * rng.normal(size=400) > 0
    r = Router.fit(x, y)
    assert ((r.score(x) > 0.5) == y).mean() > 0.95
    r.save(tmp_path / "router.json")
    assert np.allclose(Router.load(tmp_path / "router.json").score(x), r.score(x))


def test_route_specs_are_checked():
    assert build_method("route:router").spec() == "route:router"
    assert build_method("route:kind=switch;share=0.5").spec() == "route:kind=switch;share=0.5"
    for bad, needle in [("route:nope", "kind"), ("route:kind=cascade;share=1.5", "share"),
                        ("route:kind=cascade;fast_method=deer", "fast_method"),
                        ("route:kind=cascade;strong=nope", "unknown method")]:
        with pytest.raises(BrevityError, match=needle):
            build_method(bad)


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    import os

    from brevity.engines import make_engine
    from brevity.zoo import resolve_model

    os.environ["BREVITY_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    cache = {}

    def get(name):
        path = str(resolve_model(name))
        if path not in cache:
            cache[path] = make_engine("hf", path, batch_size=32)
        return cache[path]

    yield get
    os.environ.pop("BREVITY_CACHE", None)


@pytest.mark.parametrize("spec", ["route:kind=cascade;strong=budget:64;share=0.5;calib_n=24",
                                  "route:kind=router;strong=budget:64;share=0.5;calib_n=24;train_n=48",
                                  "route:kind=switch;strong=budget:64;calib_n=24"])
def test_routes_end_to_end_count_both_sides(spec, engines):
    m = dataclasses.replace(build_method(spec), max_tokens=256)
    lrm = engines("tiny-lrm")
    probs = load_problems("arith", split="test", n=24)
    sols = score_solutions(probs, m.run(probs, lrm, make_engine=engines, task=TaskSpec("arith")))
    assert [s.problem_id for s in sols] == [p.id for p in probs]
    routed = [s for s in sols if s.extra["route"] == "strong"]
    if m.share >= 0:  # calibrated for half the calls on validation: test lands near half
        assert 4 <= len(routed) <= 20, len(routed)
    assert all(s.method == m.spec() and s.model == "tiny-lrm" for s in sols)
    fast, strong = m.side_methods()
    assert fast.max_tokens == strong.max_tokens == 256
    fast_sols = {s.problem_id: s for s in score_solutions(
        probs, fast.run(probs, lrm if m.kind == "switch" else engines("tiny-llm")))}
    hard = [p for p, s in zip(probs, sols) if s.extra["route"] == "strong"]
    strong_sols = {s.problem_id: s for s in score_solutions(hard, strong.run(hard, lrm))}
    for s in sols:
        f = fast_sols[s.problem_id]
        if s.extra["route"] == "fast":
            assert s.correct == f.correct and s.generated_positions == f.generated_positions
        else:  # the strong side's answer; a cascade also pays for the fast attempt, a router does not
            g = strong_sols[s.problem_id]
            paid = 0 if m.kind == "router" else f.generated_positions
            assert s.correct == g.correct and s.generated_positions == g.generated_positions + paid
    # The scores order by need: the routed problems score above the threshold, the others not.
    assert all((s.extra["score"] > s.extra["threshold"]) == (s.extra["route"] == "strong") for s in sols)


def test_answer_logprob_is_the_mean_over_answer_tokens(engines):
    sol = build_method("cot").run(load_problems("arith", split="test", n=2), engines("tiny-llm"), logprobs=True)
    for s in sol:
        assert s.answer_tokens > 0 and -20 < s.extra["answer_logprob"] <= 0


@pytest.mark.parametrize("args,needle", [
    (["--routes", "cot"], "is not a route"),
    (["--routes", "route:sideways"], "route kind"),
    (["--n", "0"], "--n': Input should be greater than or equal to 1"),
])
def test_route_eval_bad_input_is_one_line_exit_2(args, needle, tmp_path, cli):
    p = cli(["route", "eval", "--out", tmp_path / "o", *args])
    assert p.returncode == 2, p.stderr
    assert needle in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr

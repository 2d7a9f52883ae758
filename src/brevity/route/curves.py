"""Threshold calibration and RouteLLM's metrics, as pure functions of per-problem outcomes.

A score says how much a problem needs the strong model (higher: more). A threshold is a quantile of
the scores on validation for a target share of strong calls (RouteLLM's calibration). The quality
curve routes the top-k scores for every k; PGR (performance gap recovered) rescales accuracy between
the fast model alone (0) and the strong model alone (1); CPT(x) is the smallest share of strong calls
reaching PGR x, APGR the area under PGR over the share of strong calls.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def threshold_for_share(scores: Sequence[float], share: float) -> float:
    """The threshold that sends `share` of these scores to the strong model (score > threshold)."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be in [0, 1], got {share}")
    s = sorted(scores, reverse=True)
    k = round(share * len(s))
    if k == 0:
        return math.inf
    if k >= len(s):
        return -math.inf
    return (s[k - 1] + s[k]) / 2 if s[k - 1] != s[k] else s[k - 1]


@dataclass
class Curve:
    share: list[float]  # share of strong calls, 0..1
    accuracy: list[float]
    cost: list[float]  # mean generated tokens per problem


def quality_curve(scores: Sequence[float], fast_correct: Sequence[bool], strong_correct: Sequence[bool],
                  fast_cost: Sequence[float], routed_cost: Sequence[float]) -> Curve:
    """Accuracy and cost when the k highest-scoring problems go to the strong model, k = 0..n.
    `routed_cost` is a problem's cost when routed (a cascade pays the fast attempt too)."""
    n = len(scores)
    order = sorted(range(n), key=lambda i: -scores[i])
    correct, cost = sum(fast_correct), sum(fast_cost)
    curve = Curve([0.0], [correct / n], [cost / n])
    for k, i in enumerate(order, 1):
        correct += strong_correct[i] - fast_correct[i]
        cost += routed_cost[i] - fast_cost[i]
        curve.share.append(k / n)
        curve.accuracy.append(correct / n)
        curve.cost.append(cost / n)
    return curve


def pgr(accuracy: float, fast_acc: float, strong_acc: float) -> float:
    gap = strong_acc - fast_acc
    return (accuracy - fast_acc) / gap if gap else 1.0


def cpt(curve: Curve, x: float, fast_acc: float, strong_acc: float) -> float | None:
    """Call-performance threshold: the smallest share of strong calls whose PGR reaches x."""
    for share, acc in zip(curve.share, curve.accuracy):
        if pgr(acc, fast_acc, strong_acc) >= x - 1e-12:
            return share
    return None


def apgr(curve: Curve, fast_acc: float, strong_acc: float) -> float:
    """Average performance gap recovered: trapezoid area under PGR over the share of strong calls."""
    p = [pgr(a, fast_acc, strong_acc) for a in curve.accuracy]
    return sum((curve.share[i + 1] - curve.share[i]) * (p[i] + p[i + 1]) / 2 for i in range(len(p) - 1))


def smallest_share(curve: Curve, target_acc: float) -> float:
    """The smallest share of strong calls whose accuracy reaches `target_acc` (1.0 when none does)."""
    return next((s for s, a in zip(curve.share, curve.accuracy) if a >= target_acc - 1e-12), 1.0)

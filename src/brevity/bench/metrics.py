"""Summary metrics over Solution records: accuracy with Wilson intervals, paired bootstrap
differences, thinking tokens, outcome efficiency, compression against `cot`, and AES."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from statistics import mean

import numpy as np

from brevity.methods.solution import Solution


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 0.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def resample_indices(n: int, iters: int = 2000, seed: int = 0) -> np.ndarray:
    """[iters, n] problem indices drawn with replacement, the draws of Python's `random.Random(seed)` in order
    (so every interval a summary reported before stays the same)."""
    rng = random.Random(seed)
    return np.array([[rng.randrange(n) for _ in range(n)] for _ in range(iters)], dtype=np.int64).reshape(iters, n)


def paired_bootstrap(a: Sequence[float], b: Sequence[float], iters: int = 2000, seed: int = 0,
                     indices: np.ndarray | None = None) -> tuple[float, float]:
    """95% interval of mean(a) - mean(b) over problems resampled together (`indices`: the resamples, [iters, n];
    default `resample_indices(n, iters, seed)`)."""
    n = len(a)
    if n == 0:
        return (0.0, 0.0)
    idx = resample_indices(n, iters, seed) if indices is None else np.asarray(indices)
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    diffs = np.sort(d[idx].sum(axis=1) / n)
    return (float(diffs[int(0.025 * len(idx))]), float(diffs[int(0.975 * len(idx)) - 1]))


def percentile(xs: Sequence[float], q: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    pos = (len(s) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def outcome_efficiency(records: Sequence[Solution]) -> float | None:
    """Chen et al.: over correct solutions that think, first-answer tokens over all thinking tokens."""
    ratios = [r.first_answer_tokens / r.thinking_tokens for r in records
              if r.correct and r.thinking_tokens and r.first_answer_tokens]
    return mean(ratios) if ratios else None


def aes(length: float, acc: float, ref_length: float, ref_acc: float, alpha: float = 1, beta: float = 3,
        gamma: float = 5) -> float | None:
    """Accuracy-efficiency score of O1-Pruner (alpha 1, beta 3, gamma 5)."""
    if not ref_length or not ref_acc:
        return None
    d_len = (ref_length - length) / ref_length
    d_acc = (acc - ref_acc) / ref_acc
    return alpha * d_len + (beta * d_acc if d_acc >= 0 else gamma * d_acc)


HOLDS_WITHIN = 0.01  # the project's rule: a method keeps cot's accuracy when its paired interval stays above -1 point


def accuracy_holds(diff_ci95: Sequence[float]) -> bool:
    """Whether a method's accuracy holds against cot's: the lower bound of the paired 95% interval of the
    difference lies above -1 point. A token saving counts only where it does."""
    return diff_ci95[0] > -HOLDS_WITHIN


def summarize(records: Sequence[Solution], cot: Sequence[Solution] | None = None) -> dict:
    """One summary row; `cot` holds the same model's cot records, matched by problem id."""
    n = len(records)
    k = sum(r.correct for r in records)
    lat = [r.latency_s for r in records if r.latency_s is not None]
    think = mean(r.thinking_tokens for r in records) if n else 0.0
    positions = mean(r.generated_positions for r in records) if n else 0.0
    # Latent steps and a route's two models both generate outside "thinking": compare total positions then.
    by_positions = any(r.latent_steps or "route" in r.extra for r in records)
    routed = [r.extra["route"] == "strong" for r in records if "route" in r.extra]
    row = {
        "n": n, "accuracy": k / n if n else 0.0, "accuracy_ci95": list(wilson(k, n)),
        "mean_thinking_tokens": think, "mean_answer_tokens": mean(r.answer_tokens for r in records) if n else 0.0,
        "mean_generated_positions": positions,
        "mean_forward_passes": mean(r.forward_passes for r in records) if n else 0.0,
        "mean_probe_tokens": mean(r.probe_tokens for r in records) if n else 0,
        "mean_probe_seconds": mean(r.probe_seconds for r in records) if n else 0,
        "outcome_efficiency": outcome_efficiency(records),
        "latency_p50_s": percentile(lat, 0.5), "latency_p95_s": percentile(lat, 0.95), "latency_n": len(lat),
        "compression_vs_cot": None, "saving_vs_cot": None, "aes": None,
        "accuracy_diff_vs_cot": None, "accuracy_diff_vs_cot_ci95": None, "accuracy_holds": None,
        "strong_share": mean(routed) if routed else None,
    }
    if cot:
        by_id = {r.problem_id: r for r in cot}
        pairs = [(r, by_id[r.problem_id]) for r in records if r.problem_id in by_id]
        if pairs:
            def cost(r: Solution) -> float:
                return r.generated_positions if by_positions else r.thinking_tokens
            mine, ref = mean(cost(a) for a, _ in pairs), mean(cost(b) for _, b in pairs)
            acc_a = mean(a.correct for a, _ in pairs)
            acc_b = mean(b.correct for _, b in pairs)
            row["compression_vs_cot"] = mine / ref if ref else None
            row["saving_vs_cot"] = 1 - mine / ref if ref else None
            row["aes"] = aes(mine, acc_a, ref, acc_b)
            row["accuracy_diff_vs_cot"] = acc_a - acc_b
            row["accuracy_diff_vs_cot_ci95"] = list(paired_bootstrap([float(a.correct) for a, _ in pairs],
                                                                     [float(b.correct) for _, b in pairs]))
            row["accuracy_holds"] = accuracy_holds(row["accuracy_diff_vs_cot_ci95"])
    return row

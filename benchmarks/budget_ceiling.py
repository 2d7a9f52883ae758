"""How much can any fixed thinking budget save on these traces without losing answers?

Reads the `cot` records of a `brevity bench` run and, for each cap N, reports what `budget:N` would
save if it cost nothing else (thinking becomes min(L, N)) and the share of correct cot solutions
whose first correct answer lies inside the cap (the most a cap can keep: a cut before the answer
is reached loses it). A fixed cap can only realize the ideal saving (1 - outcome efficiency) when
all traces reach their answer at about the same point; per-problem early exit does not need that.

    python benchmarks/budget_ceiling.py brevity-runs/test-2000/records.jsonl [--model tiny-lrm]
"""

from __future__ import annotations

import argparse
import json
from statistics import mean

from brevity.zoo.chat import BUDGET_PHRASE


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("records")
    ap.add_argument("--model", default="tiny-lrm")
    ap.add_argument("--phrase-tokens", type=int, default=None,
                    help="tokens of the budget phrase (default: counted with the model's tokenizer)")
    args = ap.parse_args()
    rows = [json.loads(x) for x in open(args.records) if x.strip()]
    cot = [r for r in rows if r["method"] == "cot" and r["model"] == args.model]
    if not cot:
        raise SystemExit(f"no cot records for {args.model} in {args.records}")
    phrase = args.phrase_tokens
    if phrase is None:
        from transformers import AutoTokenizer

        from brevity.zoo import resolve_model
        phrase = len(AutoTokenizer.from_pretrained(resolve_model(args.model))(BUDGET_PHRASE).input_ids)
    lengths = [r["thinking_tokens"] for r in cot]
    correct = [r for r in cot if r["correct"]]
    acc = len(correct) / len(cot)
    oe = mean(r["first_answer_tokens"] / r["thinking_tokens"] for r in correct if r["first_answer_tokens"])
    print(f"{args.model} cot: n={len(cot)} accuracy {100 * acc:.1f}% mean thinking {mean(lengths):.1f} "
          f"outcome efficiency {oe:.3f} ideal saving {1 - oe:.3f}")
    print(f"{'cap':>5} {'saving':>7} {'of ideal':>8} {'answers kept':>12} {'max accuracy':>12}")
    for cap in (64, 96, 112, 128, 136, 144, 152, 160, 176, 192, 224, 256, 320):
        think = [min(n, cap) for n in lengths]
        saving = 1 - mean(think) / mean(lengths)
        kept = sum(1 for r in correct if r["thinking_tokens"] <= cap
                   or (r["first_answer_tokens"] or 10**9) <= cap - phrase) / len(cot)
        print(f"{cap:>5} {100 * saving:>6.1f}% {100 * saving / (1 - oe):>7.0f}% {100 * kept / acc:>11.1f}% "
              f"{100 * kept:>11.1f}%")


if __name__ == "__main__":
    main()

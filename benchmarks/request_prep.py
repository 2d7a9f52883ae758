"""What the gateway does to a chat request before an upstream sees it, timed in-process: validating the body
(the request model), rendering the chat template and tokenizing the prompt, for tiny-lrm and an arith question.

Why: the gateway's time to first token over vLLM is a few ms above vLLM's own; this says how much of it these
steps can be. Medians of `--repeats` timings of `--n` calls each.

    python benchmarks/request_prep.py --n 200 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import time

from brevity.formats import load_format
from brevity.serve.protocol import ChatCompletionRequest
from brevity.tasks import load_problems
from brevity.zoo import resolve_model


def per_call_ms(fn, n: int, repeats: int) -> float:
    fn()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - start) / n * 1000)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    fmt = load_format(resolve_model("tiny-lrm"))
    question = load_problems("arith", split="test", n=1)[0].question
    messages = [{"role": "user", "content": question}]
    body = {"model": "tiny-lrm", "messages": messages, "max_completion_tokens": 1024, "stream": True,
            "stream_options": {"include_usage": True}, "temperature": 0.0}
    text = fmt.render(messages)
    steps = {"validate the body": lambda: ChatCompletionRequest.model_validate(body),
             "render the chat template": lambda: fmt.render(messages),
             "tokenize the prompt": lambda: fmt.encode(text)}
    for name, fn in steps.items():
        print(f"{name}: {per_call_ms(fn, args.n, args.repeats):.3f} ms")


if __name__ == "__main__":
    main()

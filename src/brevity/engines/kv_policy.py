"""KV-cache policies for long thinking: which cached tokens a decode keeps once the trace outgrows a budget.

`full` keeps everything (the engine's ordinary path). The others evict trace tokens during decoding, never
the prompt and never the newest `window` tokens, so that the trace's cached tokens stay at or under
`budget` after every forward:

- `streaming`: the newest tokens (StreamingLLM: the prompt holds the attention sinks);
- `h2o`: the tokens with the most attention accumulated over the decode (heavy hitters, H2O);
- `rkv`: importance (the attention of the newest `observe` queries) combined with redundancy between keys
  (R-KV), so that a repeated re-check line goes before the equation it repeats;
- `rpc`: importance alone, by the attention of the newest `observe` queries, compressed in chunks
  (reasoning path compression).

`budget` is a number of tokens (`budget=64`) or a share of the trace so far (`budget=25%`). A compression
frees `every` slots at once: it runs when the trace exceeds the budget and brings it down to
`budget - every + 1`, so the next `every - 1` tokens are appended without scoring. The records' peak cached
trace tokens are what the budget bought (brevity.engines.evicting_cache).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from brevity.errors import BrevityError

POLICIES = ("full", "streaming", "h2o", "rkv", "rpc")
# Per policy: (every, observe, mix). R-KV scores with the last 8 queries and mixes importance and redundancy at
# lambda 0.07 (its code; its README says 0.1); RPC's selector reads the newest 32 queries. every: slots freed per
# compression, 8 for all: H2O and StreamingLLM evict one token per step, which `every=1` reproduces at 3.0 times the
# decode time here (benchmarks/kv_throughput.py, 64 arith prompts of 300 tokens: 2,212 against 6,537 tokens/s).
DEFAULTS = {
    "streaming": (8, 0, 0.0),
    "h2o": (8, 0, 0.0),
    "rkv": (8, 8, 0.07),
    "rpc": (8, 32, 0.0),
}
KEYS = ("budget", "window", "every", "observe", "mix")


@dataclass(frozen=True)
class KVPolicy:
    name: str = "full"
    budget: int = 0  # trace tokens kept (0 with a share)
    share: float = 0.0  # or: the budget as this share of the trace generated so far
    window: int = 8  # the newest trace tokens, never evicted
    every: int = 1  # slots freed per compression
    observe: int = 0  # newest queries whose attention scores the cache (rkv, rpc)
    mix: float = 0.0  # rkv: weight of importance against redundancy (R-KV's lambda)

    @property
    def evicts(self) -> bool:
        return self.name != "full"

    def cap(self, trace_tokens: int) -> int:
        """The most trace tokens kept once `trace_tokens` have been generated. A share never goes under the
        never-evicted window plus one compression, so the first tokens are not scored one at a time."""
        if self.share:
            return max(self.window + self.every, math.ceil(self.share * trace_tokens))
        return self.budget

    def text(self) -> str:
        if not self.evicts:
            return "full"
        budget = f"{self.share * 100:g}%" if self.share else str(self.budget)
        every, observe, mix = DEFAULTS[self.name]
        parts = [f"budget={budget}", f"window={self.window}"]
        if self.every != every:
            parts.append(f"every={self.every}")
        if self.observe != observe:
            parts.append(f"observe={self.observe}")
        if self.mix != mix:
            parts.append(f"mix={self.mix:g}")
        return f"{self.name}:" + ";".join(parts)

    __str__ = text


FULL = KVPolicy()


def parse_kv_policy(text: str) -> KVPolicy:
    """`full`, `streaming:budget=64`, `rkv:budget=25%;window=8;every=8`, or a bare `h2o:64`."""
    from brevity.spec import parse_spec

    spec = parse_spec(text)
    if spec.model:
        raise BrevityError(f"KV policy {text!r}: a policy names no model (drop '@{spec.model}')")
    if spec.name not in POLICIES:
        raise BrevityError(f"unknown KV policy {spec.name!r}; choose one of {', '.join(POLICIES)}")
    params = dict(spec.params)
    if spec.positional is not None:
        params["budget"] = spec.positional
    if spec.name == "full":
        if params:
            raise BrevityError(f"KV policy 'full' keeps every token and takes no parameters, got {text!r}")
        return FULL
    unknown = sorted(set(params) - set(KEYS))
    if unknown:
        raise BrevityError(f"KV policy {spec.name}: unknown parameter {unknown[0]!r}; known: {', '.join(KEYS)}")
    every, observe, mix = DEFAULTS[spec.name]
    for key, users in (("observe", ("rkv", "rpc")), ("mix", ("rkv",))):
        if key in params and spec.name not in users:
            raise BrevityError(f"KV policy {spec.name} does not read {key} (only {' and '.join(users)} do); drop it")
    if "budget" not in params:
        raise BrevityError(f"KV policy {spec.name} needs a budget, e.g. {spec.name}:budget=64 or budget=25%")
    budget, share = _budget(spec.name, params["budget"])
    # H2O splits its budget evenly between heavy hitters and recent tokens; the others keep R-KV's 8 newest.
    window = _int(spec.name, "window", params.get("window", str(budget // 2 if spec.name == "h2o" and budget else 8)),
                  low=1)
    every = _int(spec.name, "every", params.get("every", str(every)), low=1)
    observe = _int(spec.name, "observe", params.get("observe", str(observe)), low=0)
    try:
        mix = float(params.get("mix", mix))
    except ValueError:
        raise BrevityError(f"KV policy {spec.name}: mix must be a number in [0, 1], got {params['mix']!r}") from None
    if not 0 <= mix <= 1:
        raise BrevityError(f"KV policy {spec.name}: mix must be in [0, 1], got {mix:g}")
    if spec.name in ("rkv", "rpc") and observe < 1:
        raise BrevityError(f"KV policy {spec.name}: observe must be >= 1 query")
    if budget and window + every > budget:
        raise BrevityError(f"KV policy {spec.name}: the never-evicted window ({window}) plus the slots freed per "
                           f"compression ({every}) exceed the budget ({budget}); lower window or every, or raise the "
                           f"budget")
    return KVPolicy(spec.name, budget, share, window, every, observe, mix)


def _budget(name: str, value: str) -> tuple[int, float]:
    if value.endswith("%"):
        try:
            share = float(value[:-1]) / 100
        except ValueError:
            share = -1.0
        if not 0 < share <= 1:
            raise BrevityError(f"KV policy {name}: a budget share must be in (0%, 100%], got {value!r}")
        return 0, share
    return _int(name, "budget", value, low=1), 0.0


def _int(name: str, key: str, value: str, low: int) -> int:
    try:
        n = int(value)
    except ValueError:
        raise BrevityError(f"KV policy {name}: {key} must be a whole number, got {value!r}") from None
    if n < low:
        raise BrevityError(f"KV policy {name}: {key} must be >= {low}, got {n}")
    return n


def parse_kv_list(text: str) -> list[KVPolicy]:
    """`--kv "full,rkv:budget=64,h2o:budget=64"`: policies never contain commas."""
    policies = [parse_kv_policy(t) for t in text.split(",") if t.strip()]
    if not policies:
        raise BrevityError("--kv names no policy; write e.g. --kv full,rkv:budget=64")
    return policies
